#pragma once
// Small helpers shared by the tests: temp folders, files, child processes.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trex/config/yaml_loader.h"
#include "trex/plugin/augmentation.h"
#include "trex/registry/diagnostics.h"
#include "trex/registry/registry.h"

namespace trex::test {

namespace fs = std::filesystem;

/// A fresh folder under the system temp dir, removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("trex-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline std::string write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int exit_code;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command and captures its output and exit code.
inline CommandResult run_command(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

/// Starts a shell command in the background with extra environment; its
/// output goes to `log`. Returns the pid (of the command: the shell execs it).
inline pid_t spawn(const std::string& command, const std::vector<std::pair<std::string, std::string>>& env = {},
                   const std::string& log = "/dev/null") {
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

/// Whether Debian's /usr/bin/python3 imports `module` (torch, torchvision): the
/// reference for parity tests. tools/setup.sh installs both and CI always has
/// them, so tests REQUIRE this rather than skip.
inline bool python_has(const std::string& module) {
  return run_command("/usr/bin/python3 -c 'import " + module + "'").exit_code == 0;
}

inline std::string trex_binary() { return std::string(TREX_BINARY_DIR) + "/bin/trex"; }
inline std::string plugin_dir() { return std::string(TREX_BINARY_DIR) + "/plugins"; }
inline std::string source_dir() { return TREX_SOURCE_DIR; }
inline const char* fashion_root() { return "/usr/share/datasets/fashion-mnist/"; }

/// The plugins this build produced, loaded once per test process.
inline const Registry& built_plugins() {
  static Registry r({plugin_dir()});
  return r;
}

/// The built augmentation plugin a YAML map names (`{type: random_flip}`), made
/// with its settings; throws, naming the YAML, where it does not resolve.
inline std::shared_ptr<Augmentation> augmentation(const std::string& yaml) {
  Diagnostics diag;
  auto r = built_plugins().resolve(Kind::Augmentation, parse_yaml(yaml, "test"), "augment.train.0", diag);
  if (!r) throw std::runtime_error("augmentation does not resolve: " + yaml);
  return built_plugins().create_as<Augmentation>(*r, {});
}

}  // namespace trex::test
