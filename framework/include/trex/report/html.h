#pragma once
// A self-contained HTML page (no scripts, no external files besides its
// images): headings, paragraphs, tables and figures, all text escaped.
#include <string>
#include <vector>

namespace trex::report {

std::string escape_html(const std::string& text);

class HtmlPage {
 public:
  explicit HtmlPage(const std::string& title);
  HtmlPage& heading(const std::string& text, int level = 2);
  HtmlPage& paragraph(const std::string& text);
  HtmlPage& preformatted(const std::string& text);
  HtmlPage& table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  /// An image (path relative to the page) with its caption.
  HtmlPage& figure(const std::string& src, const std::string& caption);
  void write(const std::string& path) const;
  /// The image paths the page refers to, in order.
  const std::vector<std::string>& images() const { return images_; }

 private:
  std::string title_, body_;
  std::vector<std::string> images_;
};

}  // namespace trex::report
