#include "trex/report/html.h"

#include <filesystem>
#include <fstream>

namespace trex::report {

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HtmlPage::HtmlPage(const std::string& title) : title_(title) { heading(title, 1); }

HtmlPage& HtmlPage::heading(const std::string& text, int level) {
  const std::string tag = "h" + std::to_string(level);
  body_ += "<" + tag + ">" + escape_html(text) + "</" + tag + ">\n";
  return *this;
}

HtmlPage& HtmlPage::paragraph(const std::string& text) {
  body_ += "<p>" + escape_html(text) + "</p>\n";
  return *this;
}

HtmlPage& HtmlPage::preformatted(const std::string& text) {
  body_ += "<pre>" + escape_html(text) + "</pre>\n";
  return *this;
}

HtmlPage& HtmlPage::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const auto& h : header) body_ += "<th>" + escape_html(h) + "</th>";
  body_ += "</tr>\n";
  for (const auto& r : rows) {
    body_ += "<tr>";
    for (const auto& c : r) body_ += "<td>" + escape_html(c) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
  return *this;
}

HtmlPage& HtmlPage::figure(const std::string& src, const std::string& caption) {
  images_.push_back(src);
  body_ += "<figure><img src=\"" + escape_html(src) + "\" alt=\"" + escape_html(caption) + "\"><figcaption>" +
           escape_html(caption) + "</figcaption></figure>\n";
  return *this;
}

void HtmlPage::write(const std::string& path) const {
  std::filesystem::create_directories(std::filesystem::absolute(path).parent_path());
  std::ofstream out(path);
  out << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << escape_html(title_)
      << "</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}"
         "figure{margin:1.5em 0}figcaption{color:#666;font-size:90%}</style></head>\n<body>\n"
      << body_ << "</body></html>\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace trex::report
