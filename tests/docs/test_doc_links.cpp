// SPDX-License-Identifier: Apache-2.0
// Every relative link of the docs leads somewhere: the file exists, and an
// #anchor names a heading of the page it points into. The docs are split
// into pages that link to each other and to the headers, so a moved section
// or a renamed heading would otherwise leave a dead link behind silently.
//
// Anchors follow GitHub's rule for headings: lower case; letters, digits,
// '-', '_' and spaces kept, spaces turned into '-', everything else dropped
// (so "Models and training (`runtime/`)" is #models-and-training-runtime).
// Links inside fenced code blocks are code, not links, and are skipped; so
// are absolute URLs (scheme:...).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string github_anchor(const std::string& heading) {
  std::string anchor;
  for (const char c : heading) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_') {
      anchor += static_cast<char>(std::tolower(u));
    } else if (c == ' ') {
      anchor += '-';
    }
  }
  return anchor;
}

bool is_fence(const std::string& line) { return line.rfind("```", 0) == 0; }

std::set<std::string> anchors_of(const fs::path& page) {
  std::set<std::string> anchors;
  bool in_code = false;
  for (const std::string& line : lines_of(page)) {
    if (is_fence(line)) in_code = !in_code;
    if (in_code || line.empty() || line[0] != '#') continue;
    const std::size_t text = line.find_first_not_of('#');
    if (text == std::string::npos || line[text] != ' ') continue;
    anchors.insert(github_anchor(line.substr(text + 1)));
  }
  return anchors;
}

struct Link {
  std::size_t line;
  std::string target;
};

// The targets of Markdown links `[text](target)` outside code blocks.
std::vector<Link> links_of(const fs::path& page) {
  std::vector<Link> links;
  bool in_code = false;
  const std::vector<std::string> lines = lines_of(page);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_fence(lines[i])) in_code = !in_code;
    if (in_code) continue;
    for (std::size_t at = lines[i].find("]("); at != std::string::npos;
         at = lines[i].find("](", at + 2)) {
      const std::size_t end = lines[i].find(')', at + 2);
      if (end == std::string::npos) break;
      links.push_back({i + 1, lines[i].substr(at + 2, end - at - 2)});
    }
  }
  return links;
}

bool is_url(const std::string& target) {
  const std::size_t colon = target.find(':');
  return colon != std::string::npos && target.find('/') > colon;
}

std::vector<fs::path> doc_pages() {
  const fs::path root = TERN_SOURCE_DIR;
  std::vector<fs::path> pages{root / "README.md", root / "CHANGELOG.md",
                              root / "bench" / "README.md", root / "kernels" / "README.md"};
  std::vector<fs::path> docs;
  for (const auto& entry : fs::directory_iterator(root / "docs")) {
    if (entry.path().extension() == ".md") docs.push_back(entry.path());
  }
  std::sort(docs.begin(), docs.end());
  pages.insert(pages.end(), docs.begin(), docs.end());
  return pages;
}

}  // namespace

TEST_CASE("the anchor rule gives GitHub's anchors for the docs' kinds of heading") {
  CHECK(github_anchor("Models and training (`runtime/`)") == "models-and-training-runtime");
  CHECK(github_anchor("Saving, loading, flashing (`persist.h`)") ==
        "saving-loading-flashing-persisth");
  CHECK(github_anchor("Rank-1 structure") == "rank-1-structure");
  CHECK(github_anchor("0.1.0 \xe2\x80\x94 2026-12-06") == "010--2026-12-06");
}

TEST_CASE("every relative link in README.md and docs/ reaches an existing file and heading") {
  std::size_t checked = 0;
  for (const fs::path& page : doc_pages()) {
    REQUIRE_MESSAGE(fs::exists(page), page.string());
    for (const Link& link : links_of(page)) {
      if (is_url(link.target)) continue;
      const std::size_t hash = link.target.find('#');
      const std::string file = link.target.substr(0, hash);
      const std::string anchor = hash == std::string::npos ? "" : link.target.substr(hash + 1);
      const fs::path target = file.empty() ? page : page.parent_path() / file;
      INFO(page.string() << ":" << link.line << ": link to " << link.target);
      CHECK(fs::exists(target));
      if (!anchor.empty() && fs::exists(target)) CHECK(anchors_of(target).count(anchor) == 1);
      ++checked;
    }
  }
  // The docs link to each other and to the headers about forty times; a
  // parser that found none would pass vacuously.
  CHECK(checked > 30);
}

// docs/embedding.md quotes the FetchContent project .ci/consumers builds
// (examples/consumer/fetchcontent/CMakeLists.txt) from include(FetchContent)
// on; the quote must be the file's text, so what users copy is what CI runs.
TEST_CASE("the FetchContent snippet in docs/embedding.md is the project CI builds") {
  const fs::path root = TERN_SOURCE_DIR;
  const auto text_of = [](const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string project = text_of(root / "examples" / "consumer" / "fetchcontent" / "CMakeLists.txt");
  const std::string page = text_of(root / "docs" / "embedding.md");
  const std::size_t from = project.find("include(FetchContent)");
  REQUIRE(from != std::string::npos);
  const std::string begin = "<!-- fetchcontent:begin -->\n```cmake\n";
  const std::size_t quote = page.find(begin);
  const std::size_t end = page.find("```\n<!-- fetchcontent:end -->");
  REQUIRE(quote != std::string::npos);
  REQUIRE(end != std::string::npos);
  CHECK(page.substr(quote + begin.size(), end - quote - begin.size()) == project.substr(from));
}
