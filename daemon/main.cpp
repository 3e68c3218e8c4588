#include "app/cli.hpp"

int main(int argc, char** argv) {
  return imagegc::app::run_cli(argc, argv);
}
