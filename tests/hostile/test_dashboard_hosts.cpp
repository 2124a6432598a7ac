// The dashboard serves the store's files: only to pages that name it (DNS
// rebinding), streamed rather than read whole.

#include <httplib.h>

#include "../helpers.h"
#include "../ui_server.h"
#include "trex/store/store.h"
#include "trex/ui/dashboard.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

TEST_CASE("allowed_host takes loopback names and the bound host, with or without the port", "[hostile][ui]") {
  CHECK(ui::allowed_host("127.0.0.1:8080", "127.0.0.1", 8080));
  CHECK(ui::allowed_host("localhost:8080", "127.0.0.1", 8080));
  CHECK(ui::allowed_host("LOCALHOST", "127.0.0.1", 8080));
  CHECK(ui::allowed_host("[::1]:8080", "127.0.0.1", 8080));
  CHECK(ui::allowed_host("box.lan:9000", "box.lan", 9000));
  CHECK(ui::allowed_host("proxy.example:8080", "127.0.0.1", 8080, {"proxy.example"}));
  CHECK_FALSE(ui::allowed_host("evil.example:8080", "127.0.0.1", 8080));
  CHECK_FALSE(ui::allowed_host("localhost.evil.example", "127.0.0.1", 8080));
  CHECK_FALSE(ui::allowed_host("127.0.0.1:9999", "127.0.0.1", 8080));
  CHECK_FALSE(ui::allowed_host("", "127.0.0.1", 8080));
  CHECK(ui::allowed_host("anything", "0.0.0.0", 8080));
}

TEST_CASE("trex ui refuses a rebound Host and streams big files whole", "[hostile][ui]") {
  TempDir d;
  const std::string path = d.file("results/trex.db");
  { Store store(path); }
  std::string big(5 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(d.file("results/runs/r1/report/big.png"), big);
  UiServer server(path, 21000);
  REQUIRE(server.up());
  httplib::Client& client = server.client();
  auto rebound = client.Get("/files/runs/r1/report/big.png", {{"Host", "attacker.example"}});
  REQUIRE(rebound);
  CHECK(rebound->status == 403);
  CHECK(rebound->body.find("--allow-host") != std::string::npos);
  auto file = client.Get("/files/runs/r1/report/big.png");
  REQUIRE(file);
  CHECK(file->status == 200);
  CHECK(file->body.size() == big.size());
  CHECK(file->body == big);
}
