// The queue steering hash (stack/tcp/queue_steering.h) and the engine's choice of ephemeral
// ports with more than one TAP queue: every active open of the loop on queue k gets a port whose
// frames the TAP sends to queue k.
#include "stack/tcp/queue_steering.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "stack/random.h"
#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

using tcp::FourTuple;
using tcp::SipKey;
using tcp::steering_hash;
using tcp::steering_queue;

constexpr SipKey kKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

FourTuple random_tuple(Random& random) {
  uint64_t r = random.next();
  uint64_t s = random.next();
  return FourTuple{Ipv4Address{static_cast<uint32_t>(r)},
                   Ipv4Address{static_cast<uint32_t>(r >> 32)}, static_cast<uint16_t>(s),
                   static_cast<uint16_t>(s >> 16)};
}

FourTuple reversed(const FourTuple& t) {
  return FourTuple{t.remote, t.local, t.remote_port, t.local_port};
}

TEST(QueueSteering, HashIsTheSameFromEitherSide) {
  Random random(1);
  for (int i = 0; i < 10000; ++i) {
    FourTuple t = random_tuple(random);
    EXPECT_EQ(steering_hash(t, kKey), steering_hash(reversed(t), kKey));
  }
  // One address at both ends: the ports alone order the endpoints.
  FourTuple same_host{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120002}, 40000, 80};
  EXPECT_EQ(steering_hash(same_host, kKey), steering_hash(reversed(same_host), kKey));
}

TEST(QueueSteering, HashSeparatesTheDirectionsOfAPortPair) {
  // Symmetric in the endpoints, not in the fields: a:p -> b:q and a:q -> b:p differ.
  FourTuple t{Ipv4Address{0xc6120001}, Ipv4Address{0xc6120002}, 40000, 80};
  FourTuple crossed{t.local, t.remote, t.remote_port, t.local_port};
  EXPECT_NE(steering_hash(t, kKey), steering_hash(crossed, kKey));
}

TEST(QueueSteering, HashDependsOnTheKey) {
  Random random(2);
  const SipKey other{kKey.k0 ^ 1, kKey.k1};
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    FourTuple t = random_tuple(random);
    same += steering_hash(t, kKey) == steering_hash(t, other);
  }
  EXPECT_LE(same, 1);  // 32-bit values: a chance collision or two in a thousand at most
}

// Pearson's chi-square over `queues` buckets of 10,000 random tuples, bounded by its degrees of
// freedom plus six standard deviations (sqrt(2 dof)): far in the tail for a uniform hash, and
// the tuples are fixed by the seed, so the test is deterministic.
void expect_spread(uint32_t queues) {
  constexpr int kTuples = 10000;
  Random random(queues);
  std::vector<int> counts(queues);
  for (int i = 0; i < kTuples; ++i) {
    ++counts[steering_queue(steering_hash(random_tuple(random), kKey), queues)];
  }
  const double expected = double{kTuples} / queues;
  double chi_square = 0;
  for (int c : counts) chi_square += (c - expected) * (c - expected) / expected;
  const double dof = queues - 1;
  EXPECT_LT(chi_square, dof + 6 * std::sqrt(2 * dof)) << queues << " queues";
  for (uint32_t q = 0; q < queues; ++q) EXPECT_GT(counts[q], 0) << "queue " << q;
}

TEST(QueueSteering, SpreadsEvenlyOverTwoFourAndSixteenQueues) {
  expect_spread(2);
  expect_spread(4);
  expect_spread(16);
}

TEST(QueueSteering, QueueIsTheLow16BitsModuloTheQueuesAsTunDoes) {
  // tun_ebpf_select_queue keeps the program's value in a u16 before taking the remainder.
  EXPECT_EQ(steering_queue(0x10000, 3), 0u);  // 65536 % 3 would be 1
  EXPECT_EQ(steering_queue(0x1234ffff, 3), 0xffffu % 3);
  EXPECT_EQ(steering_queue(7, 4), 3u);
  EXPECT_EQ(steering_queue(0xffffffff, 1), 0u);
}

class EngineQueueSteering : public EngineTest {
 protected:
  EngineQueueSteering() {
    peer_.port = 80;
    attach(peer_);
  }

  EngineConfig loop_config(uint32_t queue) const {
    EngineConfig config;
    config.queues = 4;
    config.queue = queue;
    config.steering_key = kKey;
    return config;
  }

  uint32_t queue_of(const SentSegment& s) const {
    FourTuple t{*Ipv4Address::parse(s.ip_source), *Ipv4Address::parse(s.ip_destination),
                s.source_port, s.destination_port};
    return steering_queue(steering_hash(t, kKey), 4);
  }

  Peer peer_;
};

TEST_F(EngineQueueSteering, ActiveOpensPickPortsSteeredToTheirLoopsQueue) {
  for (uint32_t queue = 0; queue < 4; ++queue) {
    restart(loop_config(queue));
    attach(peer_);
    for (int i = 0; i < 200; ++i) {
      auto [id, our_syn] = start_connect(peer_);
      ASSERT_EQ(our_syn.flags, kSyn);
      EXPECT_EQ(queue_of(our_syn), queue) << "port " << our_syn.source_port;
    }
  }
}

TEST_F(EngineQueueSteering, NoPortSteeredToTheQueueLeftIsExhaustion) {
  // Find one port of the peer's tuple for queue 1 and one that is not, and make each the whole
  // ephemeral range in turn.
  auto port_for = [&](bool to_queue_1) {
    for (uint16_t port = 32768;; ++port) {
      FourTuple t{to_engine(kOurIp), peer_.address(), port, peer_.port};
      if ((steering_queue(steering_hash(t, kKey), 4) == 1) == to_queue_1) return port;
    }
  };
  EngineConfig config = loop_config(1);
  config.ephemeral_port_first = config.ephemeral_port_last = port_for(false);
  restart(config);
  attach(peer_);
  auto id = engine().create_endpoint();
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(engine().connect(*id, peer_.address(), peer_.port).code, ErrorCode::kResourceExhausted);

  config.ephemeral_port_first = config.ephemeral_port_last = port_for(true);
  restart(config);
  attach(peer_);
  auto [opened, our_syn] = start_connect(peer_);
  EXPECT_EQ(our_syn.source_port, config.ephemeral_port_first);
}

TEST_F(EngineQueueSteering, IdsNameTheirLoop) {
  for (uint32_t queue = 0; queue < 4; ++queue) {
    restart(loop_config(queue));
    for (int i = 0; i < 5; ++i) {
      auto id = engine().create_endpoint();
      ASSERT_TRUE(id.is_ok());
      EXPECT_NE(*id, 0u);
      EXPECT_EQ(*id % 4, queue);
    }
  }
}

TEST_F(EngineQueueSteering, AReplicaTakesAnotherLoopsIdOnceAndUnbindUndoesABind) {
  restart(loop_config(1));
  EndpointId others = 4 * 7 + 2;  // loop 2's
  ASSERT_TRUE(engine().create_replica(others).is_ok());
  EXPECT_EQ(engine().create_replica(others).status().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().create_replica(4 * 7 + 1).status().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().create_replica(0).status().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(engine().bind(others, Ipv4Address{}, 8080).is_ok());
  EXPECT_EQ(engine().query(others)->state, TcpState::kBound);
  ASSERT_TRUE(engine().unbind(others).is_ok());
  EXPECT_EQ(engine().query(others)->state, TcpState::kInitial);
  EXPECT_EQ(engine().unbind(others).code, ErrorCode::kFailedPrecondition);
  // The port is free again: another endpoint of this loop binds it.
  auto own = engine().create_endpoint();
  ASSERT_TRUE(own.is_ok());
  EXPECT_TRUE(engine().bind(*own, Ipv4Address{}, 8080).is_ok());
}

}  // namespace
}  // namespace tapstack::engine_test
