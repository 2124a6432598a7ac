// What a run pays before and after its epochs (issue #18): phase times,
// checksums remembered per file version, and a checkpoint that does not read
// its frozen weights file again when the model already holds them.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include <torch/nn/modules/linear.h>

#include "helpers.h"
#include "trex/config/train_options.h"
#include "trex/model/precision.h"
#include "trex/common/file_checksums.h"
#include "trex/common/hash.h"
#include "trex/common/phases.h"
#include "trex/common/system.h"
#include "trex/model/checkpoint.h"
#include "trex/model/weights.h"
#include "trex/store/file_checksums.h"
#include "trex/store/store.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

/// A memo that knows one (path, stamp) and counts what it is asked.
struct OneEntryMemo : ChecksumMemo {
  std::string path, sum;
  FileStamp stamp;
  int kept = 0;
  std::optional<std::string> find(const std::string& p, const FileStamp& s) override {
    return p == path && s == stamp ? std::optional<std::string>(sum) : std::nullopt;
  }
  void keep(const std::string&, const FileStamp&, const std::string&) override { ++kept; }
};

struct Net : torch::nn::Module {
  Net() {
    backbone = register_module("backbone", torch::nn::Linear(2, 2));
    head = register_module("head", torch::nn::Linear(2, 2));
  }
  torch::nn::Linear backbone{nullptr}, head{nullptr};
};

}  // namespace

TEST_CASE("phases add up, and a part measured apart is taken out of the phase around it", "[cache]") {
  Phases p;
  p.add("start", 0.5);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  p.take("features", 0.02);
  p.mark("epochs");
  p.mark("epochs");
  CHECK(p.seconds("start") == 0.5);
  CHECK(p.seconds("features") == 0.02);
  CHECK(p.seconds("epochs") >= 0.009);
  CHECK(p.seconds("epochs") < 0.5);
  CHECK(p.total() == Approx(p.seconds("start") + p.seconds("features") + p.seconds("epochs")));
  CHECK_THAT(p.line(), Contains("phases: start 0.50 s, features 0.02 s, epochs"));
}

TEST_CASE("a file's checksum is remembered by its stamp and recomputed when the file changes", "[cache][store]") {
  TempDir d;
  const std::string path = d.file("w.pt");
  write_file(path, "first version");
  OneEntryMemo memo;
  memo.path = path;
  memo.stamp = *FileStamp::of(path);
  memo.sum = "fnv1a64:remembered";
  {
    UseChecksumMemo use(&memo);
    CHECK(remembered_file_checksum(path) == "fnv1a64:remembered");  // not read
    CHECK(memo.kept == 0);
    // The same size, and mtime set back to what it was: ctime still moves.
    write_file(path, "other version");
    timespec times[2] = {{memo.stamp.mtime_ns / 1000000000, memo.stamp.mtime_ns % 1000000000},
                         {memo.stamp.mtime_ns / 1000000000, memo.stamp.mtime_ns % 1000000000}};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
    CHECK(FileStamp::of(path)->mtime_ns == memo.stamp.mtime_ns);
    CHECK(remembered_file_checksum(path) == file_checksum(path));
    CHECK(memo.kept == 1);
  }
  // The store's memo: kept per path and host, found again with the same stamp only.
  Store store(d.file("s.db"));
  StoreChecksums checksums(store);
  const FileStamp stamp = *FileStamp::of(path);
  CHECK_FALSE(checksums.find(path, stamp));
  checksums.keep(path, stamp, "fnv1a64:0123");
  CHECK(checksums.find(path, stamp) == std::optional<std::string>("fnv1a64:0123"));
  FileStamp moved = stamp;
  moved.inode += 1;
  CHECK_FALSE(checksums.find(path, moved));
  StoreChecksums read_only(store, true);
  read_only.keep(path, stamp, "fnv1a64:4567");
  CHECK(checksums.find(path, stamp) == std::optional<std::string>("fnv1a64:0123"));
}

TEST_CASE("a checkpoint does not read its frozen weights file again when the model holds that version",
          "[cache][checkpoint]") {
  TempDir d;
  REQUIRE(run_command("/usr/bin/python3 -c \"import torch; torch.save({'weight': torch.full((2, 2), 3.0), "
                      "'bias': torch.ones(2)}, '" +
                      d.file("w.pt") + "')\"")
              .exit_code == 0);
  auto net = std::make_shared<Net>();
  WeightsRef ref{"state_dict", d.file("w.pt"), remembered_file_checksum(d.file("w.pt")), true, "backbone", {}};
  ref.keys = load_state_dict_file(*net->backbone, d.file("w.pt"), true).loaded;
  REQUIRE(ref.keys.size() == 2);
  TrainerState state;
  save_checkpoint(d.file("c.pt"), *net, nullptr, state, &ref);
  fs::rename(d.file("w.pt"), d.file("away.pt"));  // any read of it would now fail
  auto again = std::make_shared<Net>();
  CHECK_THROWS_WITH(load_checkpoint(d.file("c.pt"), *again, nullptr, nullptr), Contains("which is missing"));
  load_checkpoint(d.file("c.pt"), *net, nullptr, nullptr, &ref);  // the model holds them: not read
  CHECK(torch::equal(net->backbone->weight, torch::full({2, 2}, 3.0)));
  WeightsRef other = ref;
  other.checksum = "fnv1a64:another-version";
  CHECK_THROWS_WITH(load_checkpoint(d.file("c.pt"), *net, nullptr, nullptr, &other), Contains("which is missing"));
}

TEST_CASE("the engine asks glibc for huge pages unless the user's tunables say otherwise", "[cache]") {
  CHECK(tunables_with_hugepages("") == "glibc.malloc.hugetlb=1");
  CHECK(tunables_with_hugepages("glibc.malloc.arena_max=2") == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  CHECK(tunables_with_hugepages("glibc.malloc.hugetlb=0") == "glibc.malloc.hugetlb=0");
}

namespace {

/// Page faults (minor) that writing a fresh `bytes`-sized malloc block costs;
/// volatile, so the compiler keeps the malloc, the writes and the free.
long faults_to_fill(std::size_t bytes) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  char* volatile block = static_cast<char*>(std::malloc(bytes));
  REQUIRE(block != nullptr);
  std::memset(block, 1, bytes);
  std::free(block);
  getrusage(RUSAGE_SELF, &after);
  return after.ru_minflt - before.ru_minflt;
}

}  // namespace

TEST_CASE("the engine keeps freed tensor memory: the next batch's block of the same size does not fault again",
          "[cache]") {
  // Without it glibc maps a block this size and unmaps it when freed, so
  // every fill faults in all of its 65536 pages.
  keep_freed_memory();
  constexpr std::size_t kBytes = 256u << 20;
  faults_to_fill(kBytes);
  const long again = faults_to_fill(kBytes);
  CHECK(again < 1000);
}

TEST_CASE("a run records the machine, precision and allocator environment that produced it", "[cache][e2e]") {
  TempDir d;
  write_file(d.file("t.yaml"),
             "name: machine\ndata: {type: fashion_mnist, limit: 200}\nmodel: {type: seed_cnn}\n"
             "augment: {train: [normalize], eval: [normalize]}\ntrain: {epochs: 1, batch_size: 50}\n");
  const auto r =
      run_command(trex_binary() + " run " + d.file("t.yaml") + " -q -v --no-report --store " + d.file("s.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("phases: start") && Contains("data") && Contains("epochs") && Contains("(total"));
  Store s(d.file("s.db"), true);
  const std::string id = s.runs().back().id;
  std::map<std::string, std::string> params;
  for (const auto& p : s.params(id)) params[p.key] = p.value;
  CHECK(params["machine.cpu"] != "");
  // The default precision is auto: bf16 autocast + channels_last where this CPU runs bf16 natively.
  const Precision expected = choose_precision(TrainOptions{}, cpu_flags());
  CHECK(params["machine.precision"] == (expected.bf16 ? "bf16 autocast" : "fp32"));
  CHECK(params["machine.memory_format"] == (expected.channels_last ? "channels_last" : "contiguous"));
  CHECK(params["machine.conv_algorithm"] == (expected.winograd ? "winograd 3x3 (oneDNN)" : "torch"));
  CHECK(params["machine.blas"] == "openblas");
  CHECK_THAT(params["machine.env.GLIBC_TUNABLES"], Contains("glibc.malloc.hugetlb=1"));  // set by the front end
  const auto show = run_command(trex_binary() + " show " + id + " --store " + d.file("s.db"));
  CHECK_THAT(show.output, Contains("# machine") && Contains("cpu_flags"));
}
