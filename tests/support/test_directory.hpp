#pragma once
// A fresh scratch directory per test, removed afterwards.

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace imagegc::test {

class TestDirectory {
public:
  // <temp>/<prefix>-<pid>-<test name>, emptied first.
  explicit TestDirectory(const std::string& prefix)
      : m_path(std::filesystem::temp_directory_path() /
               (prefix + "-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(m_path);
    std::filesystem::create_directories(m_path);
  }
  ~TestDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  TestDirectory(const TestDirectory&) = delete;
  TestDirectory& operator=(const TestDirectory&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

  // Writes `text` to <dir>/<name> and returns the file's path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = m_path / name;
    std::ofstream(file) << text;
    return file.string();
  }

private:
  std::filesystem::path m_path;
};

} // namespace imagegc::test
