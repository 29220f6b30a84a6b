// tapstackctl capture's arguments into a Capture request.
#include <gtest/gtest.h>

#include "server/ctl/capture_command.h"

namespace tapstack::ctl {
namespace {

CaptureCommand parse(std::vector<std::string> words) {
  Args args(std::move(words));
  return parse_capture_args(args);
}

std::string error_of(std::vector<std::string> words) {
  try {
    parse(std::move(words));
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "taken";
  return "";
}

TEST(CtlCaptureArgs, EveryOptionLandsInTheRequest) {
  CaptureCommand c = parse({"--port", "80", "--peer", "198.18.0.0/24", "--handshake", "--count",
                            "12", "--duration", "2500ms", "--ring-bytes", "65536", "-w", "-"});
  EXPECT_EQ(c.output, "-");
  EXPECT_EQ(c.request.port(), 80u);
  EXPECT_EQ(c.request.peer(), "198.18.0.0/24");
  EXPECT_EQ(c.request.mode(), v1::CAPTURE_MODE_HANDSHAKE);
  EXPECT_EQ(c.request.count(), 12u);
  EXPECT_EQ(c.request.duration().seconds(), 2);
  EXPECT_EQ(c.request.duration().nanos(), 500'000'000);
  EXPECT_EQ(c.request.ring_bytes(), 65536u);

  CaptureCommand l = parse({"-w", "out.pcap", "--listener=3", "--all"});
  EXPECT_EQ(l.output, "out.pcap");
  EXPECT_EQ(l.request.listener_id(), 3u);
  EXPECT_EQ(l.request.mode(), v1::CAPTURE_MODE_ALL);
}

TEST(CtlCaptureArgs, ATupleIsLocalThenRemoteInEitherFamily) {
  CaptureCommand c = parse({"--tuple", "[2001:db8::2]:80,[2001:db8::1]:40000", "-w", "f"});
  EXPECT_EQ(c.request.tuple().local_address(), "2001:db8::2");
  EXPECT_EQ(c.request.tuple().local_port(), 80u);
  EXPECT_EQ(c.request.tuple().remote_address(), "2001:db8::1");
  EXPECT_EQ(c.request.tuple().remote_port(), 40000u);
  CaptureCommand v4 = parse({"--tuple", "198.18.0.2:80,198.18.0.1:5", "-w", "f"});
  EXPECT_EQ(v4.request.tuple().remote_address(), "198.18.0.1");
}

TEST(CtlCaptureArgs, MistakesAreUsageErrors) {
  EXPECT_EQ(error_of({"--port", "80"}), "capture needs -w FILE (or -w - for stdout)");
  EXPECT_EQ(error_of({"--all", "--handshake", "-w", "f"}),
            "--all and --handshake exclude each other");
  EXPECT_EQ(error_of({"--tuple", "198.18.0.2:80", "-w", "f"}),
            "--tuple must be LOCAL:PORT,REMOTE:PORT, not '198.18.0.2:80'");
  EXPECT_EQ(error_of({"--count", "many", "-w", "f"}), "--count must be a number, not 'many'");
  EXPECT_EQ(error_of({"-w", "f", "extra"}), "unexpected argument 'extra'");
}

}  // namespace
}  // namespace tapstack::ctl
