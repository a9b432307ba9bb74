#include <gtest/gtest.h>

#include <numeric>
#include <thread>
#include <vector>

#include "sostenuto/bridge/spsc_byte_queue.h"

namespace sostenuto::bridge {
namespace {

TEST(SpscByteQueue, PushIsAllOrNothing) {
    SpscByteQueue queue(64);
    ASSERT_EQ(queue.capacity(), 64u);
    std::vector<std::uint8_t> bytes(40);
    std::iota(bytes.begin(), bytes.end(), 0);
    EXPECT_TRUE(queue.push(bytes.data(), 40));
    EXPECT_FALSE(queue.push(bytes.data(), 25));  // 24 left
    EXPECT_TRUE(queue.push(bytes.data(), 24));
    std::vector<std::uint8_t> out(64);
    EXPECT_EQ(queue.pop(out.data(), 64), 64u);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(out[39], 39);
    EXPECT_EQ(out[40], 0);
}

TEST(SpscByteQueue, WrapsAround) {
    SpscByteQueue queue(64);
    std::vector<std::uint8_t> out(64);
    std::uint8_t next = 0, expected = 0;
    for (int round = 0; round < 100; ++round) {
        std::vector<std::uint8_t> bytes(23);
        for (auto& b : bytes) b = next++;
        ASSERT_TRUE(queue.push(bytes.data(), bytes.size()));
        const std::size_t got = queue.pop(out.data(), 23);
        ASSERT_EQ(got, 23u);
        for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], expected++);
    }
}

TEST(SpscByteQueue, StressTwoThreadsKeepOrder) {
    SpscByteQueue queue(4096);
    constexpr std::size_t total = 4u << 20;
    std::thread producer([&] {
        std::vector<std::uint8_t> chunk(300);
        std::size_t sent = 0;
        while (sent < total) {
            const std::size_t size = std::min<std::size_t>(1 + sent % 300, total - sent);
            for (std::size_t i = 0; i < size; ++i) chunk[i] = static_cast<std::uint8_t>((sent + i) * 31);
            if (queue.push(chunk.data(), size)) {
                sent += size;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::vector<std::uint8_t> out(1000);
    std::size_t received = 0;
    bool in_order = true;
    while (received < total) {
        const std::size_t got = queue.pop(out.data(), out.size());
        for (std::size_t i = 0; i < got; ++i) in_order &= out[i] == static_cast<std::uint8_t>((received + i) * 31);
        received += got;
        if (got == 0) std::this_thread::yield();
    }
    producer.join();
    EXPECT_TRUE(in_order);
    EXPECT_EQ(received, total);
}

}  // namespace
}  // namespace sostenuto::bridge
