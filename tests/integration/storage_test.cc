// dealwired on a full disk: a tmpfs of its own, mounted by the test (skipped
// with a message where mounting is not permitted). The server stays up,
// refuses appends with RESOURCE_EXHAUSTED naming the full disk, reports
// NOT_SERVING for dealwire.v1.EventStore (and the server) while reads and
// MarketIntel go on, takes appends again by itself once space is freed, and
// after kill -9 holds exactly the acknowledged events.
//
// Waits are bounded polling loops: recovery runs on the server's own timer.

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/common/eventually.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

namespace fs = std::filesystem;
using ::dealwire::test_util::Eventually;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class FullDiskTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("full_disk");
    mount_ = dir_->path() + "/mnt";
    fs::create_directories(mount_);
    if (mount("dealwire-test", mount_.c_str(), "tmpfs", 0, "size=96m") != 0) {
      const std::string why = std::strerror(errno);
      mount_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs here (" << why << "); the full-disk case is covered "
                   << "by store_storage_errors_test with a fault-injecting file system";
    }
  }
  void TearDown() override {
    server_.reset();
    if (!mount_.empty()) umount2(mount_.c_str(), MNT_DETACH);
  }

  void Start() {
    ServerProcess::Options o;
    o.data_dir = mount_ + "/data";
    absl::StatusOr<std::unique_ptr<ServerProcess>> s = ServerProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    stub_ = v1::EventStore::NewStub(server_->Channel());
    health_ = grpc::health::v1::Health::NewStub(server_->Channel());
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    const grpc::Status s = health_->Check(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << "health Check(" << service << "): " << s.error_message();
    return response.status();
  }

  // Writes `path` until the file system is full.
  static void Fill(const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    const std::string chunk(1 << 16, 'f');
    while (out.write(chunk.data(), chunk.size()) && out.flush()) {
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::string mount_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(FullDiskTest, TheServerRefusesAppendsReportsNotServingAndResumesByItself) {
  Start();
  absl::flat_hash_set<std::string> acked;
  const std::string org = NewOrgId();
  {
    v1::Event e = OrgRegistered(org);
    ASSERT_TRUE(Append(*stub_, OrgStream(org), {e}).ok());
    acked.insert(e.event_id());
  }
  // Fill the file system, then append until the log meets the full disk.
  Fill(mount_ + "/filler");
  absl::Status refused;
  for (int i = 0; i < 20000 && refused.ok(); ++i) {
    v1::Event e = OrgUpdated(org, absl::StrCat(i, " ", std::string(3990, 'x')));
    absl::StatusOr<v1::AppendResponse> r = Append(*stub_, OrgStream(org), {e});
    if (r.ok()) {
      acked.insert(e.event_id());
    } else {
      refused = r.status();
    }
  }
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(std::string(refused.message()), testing::HasSubstr("disk is full"));
  ASSERT_TRUE(server_->running()) << server_->StderrTail();

  EXPECT_EQ(Health(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health("dealwire.v1.EventStore"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health("dealwire.v1.MarketIntel"), HealthCheckResponse::SERVING);
  absl::StatusOr<std::vector<v1::Event>> read = ReadWholeLog(*stub_);
  ASSERT_TRUE(read.ok()) << "reads stop on a full disk: " << read.status();
  EXPECT_EQ(read->size(), acked.size());

  fs::remove(mount_ + "/filler");
  int i = 100000;
  ASSERT_TRUE(Eventually([&] {
    v1::Event e = OrgUpdated(org, absl::StrCat(++i, " after"));
    if (!Append(*stub_, OrgStream(org), {e}).ok()) return false;
    acked.insert(e.event_id());
    return true;
  })) << "appends were not taken again once space was freed";
  EXPECT_TRUE(Eventually([&] { return Health("") == HealthCheckResponse::SERVING; }));
  EXPECT_EQ(Health("dealwire.v1.EventStore"), HealthCheckResponse::SERVING);
  // The lines reach the test through a pipe the server process writes.
  auto has = [&](absl::string_view text) {
    return Eventually([&] {
      for (const std::string& l : server_->StderrLines()) {
        if (absl::StrContains(l, text)) return true;
      }
      return false;
    });
  };
  EXPECT_TRUE(has("storage error, appends refused until it recovers: the disk is full"));
  EXPECT_TRUE(has("storage recovered"));

  ASSERT_TRUE(server_->Kill().ok());
  Start();
  read = ReadWholeLog(*stub_);
  ASSERT_TRUE(read.ok()) << read.status();
  absl::flat_hash_set<std::string> in_log;
  for (const v1::Event& e : *read) in_log.insert(e.event_id());
  EXPECT_EQ(in_log.size(), read->size());
  EXPECT_TRUE(in_log == acked) << in_log.size() << " events in the log, " << acked.size()
                               << " acknowledged";
}

}  // namespace
}  // namespace dealwire::integration
