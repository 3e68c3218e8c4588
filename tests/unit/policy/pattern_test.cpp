#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <re2/re2.h>

#include "policy/policy.hpp"

namespace imagegc::policy {
namespace {

Pattern glob(std::string_view text) {
  std::string error;
  auto pattern = Pattern::glob(text, error);
  EXPECT_TRUE(pattern.has_value()) << text << ": " << error;
  return pattern.value_or(Pattern{});
}

Pattern regex(std::string_view text) {
  std::string error;
  auto pattern = Pattern::regex(text, error);
  EXPECT_TRUE(pattern.has_value()) << text << ": " << error;
  return pattern.value_or(Pattern{});
}

std::string glob_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(Pattern::glob(text, error).has_value()) << text;
  return error;
}

std::string regex_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(Pattern::regex(text, error).has_value()) << text;
  return error;
}

TEST(Glob, star_stays_within_a_path_segment) {
  const Pattern pattern = glob("team/*");
  EXPECT_TRUE(pattern.matches("team/app"));
  EXPECT_TRUE(pattern.matches("team/"));
  EXPECT_FALSE(pattern.matches("team/a/b"));
  EXPECT_FALSE(pattern.matches("other/app"));
  EXPECT_TRUE(glob("*").matches("app"));
  EXPECT_FALSE(glob("*").matches("team/app"));
}

TEST(Glob, double_star_crosses_segments) {
  EXPECT_TRUE(glob("team/**").matches("team/a/b/c"));
  EXPECT_TRUE(glob("team/**").matches("team/app"));
  EXPECT_TRUE(glob("**/app").matches("registry:5000/x/y/app"));
  EXPECT_FALSE(glob("**/app").matches("app"));
  EXPECT_TRUE(glob("**").matches(""));
  EXPECT_TRUE(glob("**").matches("a/b:c"));
  EXPECT_TRUE(glob("registry.example.com/**:v*").matches("registry.example.com/a/b:v1.2"));
  EXPECT_FALSE(glob("registry.example.com/**:v*").matches("registry.example.com/a/b:1.2"));
}

TEST(Glob, question_mark_is_one_character_but_not_a_slash) {
  const Pattern pattern = glob("app?");
  EXPECT_TRUE(pattern.matches("app1"));
  EXPECT_FALSE(pattern.matches("app"));
  EXPECT_FALSE(pattern.matches("app12"));
  EXPECT_FALSE(pattern.matches("app/"));
  EXPECT_TRUE(glob("caf?").matches("caf\xc3\xa9")); // one character, two bytes
}

TEST(Glob, everything_else_is_literal) {
  EXPECT_TRUE(glob("a.b").matches("a.b"));
  EXPECT_FALSE(glob("a.b").matches("axb"));
  EXPECT_TRUE(glob("c++").matches("c++"));
  EXPECT_FALSE(glob("c++").matches("cc"));
  EXPECT_TRUE(glob("(x)|y$^").matches("(x)|y$^"));
  EXPECT_FALSE(glob("(x)|y$^").matches("y"));
  EXPECT_TRUE(glob("localhost:5000/*:1.0").matches("localhost:5000/app:1.0"));
  EXPECT_FALSE(glob("localhost:5000/*:1.0").matches("localhost:5000/app:140"));
}

TEST(Glob, matches_the_whole_text) {
  EXPECT_FALSE(glob("app").matches("myapp"));
  EXPECT_FALSE(glob("app").matches("app2"));
  EXPECT_TRUE(glob("app").matches("app"));
}

TEST(Glob, rejects_brackets_braces_backslashes_and_triple_stars) {
  EXPECT_NE(glob_error("v[0-9]").find("use a regex"), std::string::npos);
  EXPECT_NE(glob_error("{a,b}").find("'{'"), std::string::npos);
  EXPECT_NE(glob_error("a\\*").find("'\\'"), std::string::npos);
  EXPECT_NE(glob_error("a/***").find("***"), std::string::npos);
  EXPECT_EQ(glob_error(""), "empty pattern");
}

TEST(Glob, keeps_its_text_and_kind) {
  const Pattern pattern = glob("team/*");
  EXPECT_EQ(pattern.kind(), Pattern::Kind::glob);
  EXPECT_EQ(pattern.text(), "team/*");
  EXPECT_EQ(regex("v[0-9]+").kind(), Pattern::Kind::regex);
  EXPECT_EQ(regex("v[0-9]+").text(), "v[0-9]+");
}

TEST(Regex, is_always_anchored) {
  EXPECT_FALSE(regex("app").matches("myapp"));
  EXPECT_FALSE(regex("app").matches("app-old"));
  EXPECT_TRUE(regex("app").matches("app"));
  EXPECT_FALSE(regex("a|b").matches("ab"));
  EXPECT_TRUE(regex("a|b").matches("b"));
  EXPECT_TRUE(regex("v?[0-9]+\\.[0-9]+").matches("v1.20"));
  EXPECT_FALSE(regex("v?[0-9]+\\.[0-9]+").matches("v1.20-rc1"));
}

// Pattern turns texts away by the range of strings RE2 says a regex can match before running
// it: over many texts, that must never change an answer.
TEST(Regex, matches_exactly_what_re2_full_match_does) {
  const std::vector<std::string> regexes = {"app",
                                            "app:v[0-9]+",
                                            "(?i)App:.*",
                                            "registry\\.local/.*|mirror/.*",
                                            ".*:latest",
                                            "[a-c]+/x:\\d",
                                            "team/(web|api):v1",
                                            "\\x{00e9}t\\x{00e9}:.*",
                                            "a{0,3}b",
                                            "",
                                            "zz+:.*"};
  std::mt19937 random(7);
  const std::string alphabet = "abcxzAPp:/.-v0123456789lt\xc3\xa9";
  std::vector<std::string> texts = {"app",
                                    "app:v12",
                                    "APP:anything",
                                    "App:",
                                    "mirror/x",
                                    "registry.local/a",
                                    "x:latest",
                                    "abc/x:3",
                                    "team/api:v1",
                                    "\xc3\xa9t\xc3\xa9:1",
                                    "b",
                                    "aaab",
                                    "zzz:1",
                                    ""};
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    const int length = static_cast<int>(random() % 14);
    for (int j = 0; j < length; ++j) {
      text += alphabet[random() % alphabet.size()];
    }
    texts.push_back(text);
  }
  for (const std::string& text_of_regex : regexes) {
    if (text_of_regex.empty()) {
      continue;
    }
    const Pattern pattern = regex(text_of_regex);
    re2::RE2::Options options;
    options.set_log_errors(false);
    const re2::RE2 reference(text_of_regex, options);
    for (const std::string& text : texts) {
      EXPECT_EQ(pattern.matches(text), re2::RE2::FullMatch(text, reference))
          << text_of_regex << " on " << text;
    }
  }
}

TEST(Regex, reports_compile_errors) {
  EXPECT_NE(regex_error("(").find("missing )"), std::string::npos);
  EXPECT_FALSE(regex_error("a**").empty());
  EXPECT_FALSE(regex_error("(?<name").empty());
  EXPECT_EQ(regex_error(""), "empty regex");
}

TEST(Regex, bounds_the_memory_of_a_pattern) {
  EXPECT_FALSE(regex_error("((a{100}){100}){100}").empty());
}

TEST(Regex, catastrophic_backtracking_patterns_are_linear) {
  // (a*)*b is exponential for a backtracking engine; RE2 answers in linear time.
  const Pattern pattern = regex("(a*)*b");
  const std::string input(100'000, 'a');
  EXPECT_FALSE(pattern.matches(input));
  EXPECT_TRUE(pattern.matches(input + "b"));
}

TEST(Pattern, may_match_starting_with_rules_out_by_literal_prefix_or_range) {
  EXPECT_FALSE(glob("synthetic/app99?:*").may_match_starting_with("synthetic/app1"));
  EXPECT_TRUE(glob("synthetic/app99?:*").may_match_starting_with("synthetic/app995"));
  EXPECT_TRUE(glob("synthetic/app99?:*").may_match_starting_with("synthetic"));
  EXPECT_TRUE(glob("**/postgres:*").may_match_starting_with("anything"));
  EXPECT_FALSE(regex("registry\\.example\\.com/base/.*").may_match_starting_with("docker.io/x"));
  EXPECT_FALSE(regex("registry\\.example\\.com/base/.*").may_match_starting_with("zzz"));
  EXPECT_TRUE(regex("registry\\.example\\.com/base/.*").may_match_starting_with("registry"));
  EXPECT_TRUE(regex(".*x").may_match_starting_with("anything"));
}

TEST(Pattern, may_match_starting_with_is_never_false_for_a_text_that_matches) {
  const std::vector<Pattern> patterns = {glob("synthetic/app99?:*"),
                                         glob("**/postgres:*"),
                                         glob("app"),
                                         glob("a*b:?"),
                                         regex("registry\\.x/.*"),
                                         regex("ab|abc|b[0-9]+"),
                                         regex("(x|y)z.*"),
                                         regex("[a-c]+:[0-9]")};
  const std::vector<std::string> texts = {"synthetic/app991:v1",
                                          "synthetic/app99:v1",
                                          "x/postgres:15",
                                          "postgres:15",
                                          "app",
                                          "ab:c",
                                          "axb:1",
                                          "registry.x/y:1",
                                          "registry.x/",
                                          "ab",
                                          "abc",
                                          "b12",
                                          "xz",
                                          "yzz:1",
                                          "abc:1",
                                          "c:9",
                                          "",
                                          "zz"};
  for (const Pattern& pattern : patterns) {
    for (const std::string& text : texts) {
      if (!pattern.matches(text)) {
        continue;
      }
      for (std::size_t length = 0; length <= text.size(); ++length) {
        EXPECT_TRUE(pattern.may_match_starting_with(text.substr(0, length)))
            << pattern.text() << " on " << text << " up to " << length;
      }
    }
  }
}

TEST(Pattern, default_constructed_matches_nothing) {
  EXPECT_FALSE(Pattern{}.matches(""));
}

TEST(LabelMatcher, checks_presence_equality_and_inequality) {
  const std::map<std::string, std::string> labels = {{"env", "prod"}, {"keep", ""}};
  EXPECT_TRUE((LabelMatcher{LabelMatcher::Op::exists, "keep", ""}.matches(labels)));
  EXPECT_FALSE((LabelMatcher{LabelMatcher::Op::exists, "missing", ""}.matches(labels)));
  EXPECT_TRUE((LabelMatcher{LabelMatcher::Op::equals, "env", "prod"}.matches(labels)));
  EXPECT_FALSE((LabelMatcher{LabelMatcher::Op::equals, "env", "dev"}.matches(labels)));
  EXPECT_FALSE((LabelMatcher{LabelMatcher::Op::equals, "missing", ""}.matches(labels)));
  EXPECT_TRUE((LabelMatcher{LabelMatcher::Op::equals, "keep", ""}.matches(labels)));
  EXPECT_TRUE((LabelMatcher{LabelMatcher::Op::not_equals, "env", "dev"}.matches(labels)));
  EXPECT_FALSE((LabelMatcher{LabelMatcher::Op::not_equals, "env", "prod"}.matches(labels)));
  EXPECT_TRUE((LabelMatcher{LabelMatcher::Op::not_equals, "missing", "x"}.matches(labels)));
}

TEST(Reference, splits_repository_and_tag) {
  EXPECT_EQ(repository_of("app:1.0"), "app");
  EXPECT_EQ(tag_of("app:1.0"), "1.0");
  EXPECT_EQ(repository_of("registry:5000/team/app:1.0"), "registry:5000/team/app");
  EXPECT_EQ(tag_of("registry:5000/team/app:1.0"), "1.0");
  EXPECT_EQ(repository_of("registry:5000/team/app"), "registry:5000/team/app");
  EXPECT_EQ(tag_of("registry:5000/team/app"), "");
  EXPECT_EQ(repository_of("app"), "app");
  EXPECT_EQ(tag_of("app"), "");
}

TEST(Reference, ignores_digests) {
  EXPECT_EQ(repository_of("app@sha256:abcd"), "app");
  EXPECT_EQ(tag_of("app@sha256:abcd"), "");
  EXPECT_EQ(repository_of("registry:5000/app:1.0@sha256:abcd"), "registry:5000/app");
  EXPECT_EQ(tag_of("registry:5000/app:1.0@sha256:abcd"), "1.0");
  EXPECT_EQ(repository_of(""), "");
  EXPECT_EQ(tag_of(""), "");
}

} // namespace
} // namespace imagegc::policy
