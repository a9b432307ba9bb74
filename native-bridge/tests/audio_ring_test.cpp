// The shared-memory audio ring over real POSIX shared memory: the documented
// header, wrap-around, publication rules, two processes, and a two-thread
// stress test with deliberate underruns and a checksum.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/byte_order.h"

namespace sostenuto::bridge {
namespace {

std::string unique_ring_name() {
    static std::atomic<int> counter{0};
    return "/sostenuto-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// The sample the producer writes for render time t on channel c: exact in a
// float (below 2^24) and different for neighbouring times and channels.
float expected_sample(std::uint64_t t, std::uint32_t c) {
    return static_cast<float>((t * 2654435761u + c * 7919u) % 16777213u);
}

// Writes `frames` frames of expected_sample() from the producer's position.
std::size_t produce(AudioRingProducer& producer, std::uint32_t channels, std::size_t frames) {
    const std::uint64_t start = producer.write_position();
    std::vector<std::vector<float>> data(channels, std::vector<float>(frames));
    std::vector<const float*> pointers;
    for (std::uint32_t c = 0; c < channels; ++c) {
        for (std::size_t i = 0; i < frames; ++i) data[c][i] = expected_sample(start + i, c);
        pointers.push_back(data[c].data());
    }
    return producer.write(pointers.data(), frames);
}

struct ReadBuffers {
    ReadBuffers(std::uint32_t channels, std::size_t frames, float fill = -1.0f)
        : data(channels, std::vector<float>(frames, fill)) {
        for (auto& channel : data) pointers.push_back(channel.data());
    }
    std::vector<std::vector<float>> data;
    std::vector<float*> pointers;
};

TEST(AudioRing, CreateWritesTheDocumentedHeaderWithMode0600) {
    const std::string name = unique_ring_name();
    std::string error;
    auto ring = SharedAudioRing::create(name, 2, 1024, error);
    ASSERT_TRUE(ring) << error;

    // Look at the raw bytes as the C# engine will.
    const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
    ASSERT_GE(fd, 0);
    struct stat info {};
    ASSERT_EQ(::fstat(fd, &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    EXPECT_EQ(static_cast<std::size_t>(info.st_size), 384u + 2u * 1024u * 4u);
    void* mapping = ::mmap(nullptr, info.st_size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    ASSERT_NE(mapping, MAP_FAILED);
    const auto* bytes = static_cast<const std::uint8_t*>(mapping);
    EXPECT_EQ(std::memcmp(bytes, "SOSTRING", 8), 0);
    EXPECT_EQ(byte_order::load_u32(bytes + 8), 2u);     // layout version
    EXPECT_EQ(byte_order::load_u64(bytes + 136), ~std::uint64_t{0});  // no splice in progress
    EXPECT_EQ(byte_order::load_u32(bytes + 12), 2u);    // channels
    EXPECT_EQ(byte_order::load_u32(bytes + 16), 1024u); // capacity frames
    EXPECT_EQ(byte_order::load_u32(bytes + 20), 384u);  // data offset
    EXPECT_EQ(byte_order::load_u64(bytes + 24), static_cast<std::uint64_t>(info.st_size));

    // Positions at 128 and 256; channel 1's slot 5 at 384 + (1*1024 + 5)*4.
    AudioRingProducer producer(*ring);
    ASSERT_EQ(produce(producer, 2, 7), 7u);
    EXPECT_EQ(byte_order::load_u64(bytes + 128), 7u);
    EXPECT_EQ(byte_order::load_u64(bytes + 256), 0u);
    float sample;
    std::memcpy(&sample, bytes + 384 + (1 * 1024 + 5) * 4, 4);
    EXPECT_EQ(sample, expected_sample(5, 1));
    ::munmap(mapping, info.st_size);
}

TEST(AudioRing, CreationIsExclusiveAndTheOwnerUnlinks) {
    const std::string name = unique_ring_name();
    std::string error;
    {
        auto ring = SharedAudioRing::create(name, 1, 64, error);
        ASSERT_TRUE(ring) << error;
        EXPECT_FALSE(SharedAudioRing::create(name, 1, 64, error));
        EXPECT_NE(error.find("File exists"), std::string::npos) << error;
        auto opened = SharedAudioRing::open(name, error);
        ASSERT_TRUE(opened) << error;
        EXPECT_EQ(opened->channels(), 1u);
        EXPECT_EQ(opened->capacity_frames(), 64u);
        EXPECT_FALSE(opened->owns_name());
    }
    EXPECT_FALSE(SharedAudioRing::open(name, error));
}

TEST(AudioRing, RefusesBadShapesAndForeignObjects) {
    std::string error;
    EXPECT_FALSE(SharedAudioRing::create(unique_ring_name(), 2, 1000, error));  // not a power of two
    EXPECT_FALSE(SharedAudioRing::create(unique_ring_name(), 0, 1024, error));
    EXPECT_FALSE(SharedAudioRing::create(unique_ring_name(), 2, 8, error));

    const std::string name = unique_ring_name();
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4096), 0);
    EXPECT_FALSE(SharedAudioRing::open(name, error));
    EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
    ASSERT_EQ(::fchmod(fd, 0644), 0);
    EXPECT_FALSE(SharedAudioRing::open(name, error));
    EXPECT_NE(error.find("not private"), std::string::npos) << error;
    ::close(fd);
    ::shm_unlink(name.c_str());
}

TEST(AudioRing, WrapsAroundTheSlots) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 2, 16, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    std::uint64_t render_time = 0;
    const std::size_t write_sizes[] = {5, 7, 3, 11, 16, 1};
    const std::size_t read_sizes[] = {3, 9, 4, 13};
    for (int step = 0; step < 200; ++step) {
        produce(producer, 2, write_sizes[step % 6]);
        const std::size_t wanted = std::min<std::uint64_t>(read_sizes[step % 4], consumer.published_until() - render_time);
        ReadBuffers out(2, wanted);
        ASSERT_EQ(consumer.read(render_time, out.pointers.data(), wanted), wanted);
        for (std::uint32_t c = 0; c < 2; ++c) {
            for (std::size_t i = 0; i < wanted; ++i) ASSERT_EQ(out.data[c][i], expected_sample(render_time + i, c));
        }
        render_time += wanted;
    }
    EXPECT_GT(render_time, 16u * 20u);  // wrapped many times
}

TEST(AudioRing, ReaderGetsOnlyThePublishedPrefix) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 1, 64, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    ASSERT_EQ(produce(producer, 1, 10), 10u);
    ReadBuffers out(1, 20, -1.0f);
    EXPECT_EQ(consumer.read(0, out.pointers.data(), 20), 10u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(out.data[0][i], expected_sample(i, 0));
    for (std::size_t i = 10; i < 20; ++i) EXPECT_EQ(out.data[0][i], -1.0f) << "unpublished frame " << i << " was touched";

    // The consumer has moved on to 20 (it played an underrun); the producer skips there.
    EXPECT_EQ(producer.catch_up(), 20u);
    ASSERT_EQ(produce(producer, 1, 8), 8u);
    ReadBuffers next(1, 8);
    EXPECT_EQ(consumer.read(20, next.pointers.data(), 8), 8u);
    EXPECT_EQ(next.data[0][0], expected_sample(20, 0));
    // Going back in render time yields nothing: those slots may already be reused.
    EXPECT_EQ(consumer.read(4, next.pointers.data(), 8), 0u);
}

TEST(AudioRing, ProducerNeverOverwritesUnreadAudio) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 1, 16, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    EXPECT_EQ(produce(producer, 1, 20), 16u);
    EXPECT_EQ(producer.writable_frames(), 0u);
    EXPECT_EQ(produce(producer, 1, 1), 0u);
    ReadBuffers out(1, 4);
    EXPECT_EQ(consumer.read(0, out.pointers.data(), 4), 4u);
    EXPECT_EQ(producer.writable_frames(), 4u);
    EXPECT_EQ(produce(producer, 1, 10), 4u);
    ReadBuffers rest(1, 16);
    EXPECT_EQ(consumer.read(4, rest.pointers.data(), 16), 16u);
    for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(rest.data[0][i], expected_sample(4 + i, 0));
}

// The engine side in another process, as in production.
TEST(AudioRing, ProducerInAnotherProcess) {
    const std::string name = unique_ring_name();
    std::string error;
    auto ring = SharedAudioRing::create(name, 2, 256, error);
    ASSERT_TRUE(ring) << error;
    constexpr std::uint64_t total = 200000;

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::string child_error;
        auto mapped = SharedAudioRing::open(name, child_error);
        if (!mapped) ::_exit(2);
        AudioRingProducer producer(*mapped);
        while (producer.write_position() < total) {
            const std::size_t chunk = std::min<std::uint64_t>(97, total - producer.write_position());
            if (produce(producer, 2, chunk) == 0) std::this_thread::yield();
        }
        ::_exit(0);
    }

    AudioRingConsumer consumer(*ring);
    std::uint64_t render_time = 0;
    ReadBuffers out(2, 64);
    bool all_equal = true;
    while (render_time < total) {
        const std::size_t wanted = std::min<std::uint64_t>(64, total - render_time);
        if (consumer.published_until() < render_time + wanted) {
            std::this_thread::yield();  // the offline-mode wait
            continue;
        }
        ASSERT_EQ(consumer.read(render_time, out.pointers.data(), wanted), wanted);
        for (std::uint32_t c = 0; c < 2; ++c) {
            for (std::size_t i = 0; i < wanted; ++i) all_equal &= out.data[c][i] == expected_sample(render_time + i, c);
        }
        render_time += wanted;
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_TRUE(all_equal);
}

// A realtime consumer against a producer that is sometimes late: the consumer
// gives the producer a random, bounded time (a host buffer period, roughly)
// and then reads whatever is there, and now and then jumps ahead by more than
// the ring's capacity (a late block, a skipped period). Every sample it gets
// must be the right one for its render time - never stale, never unpublished -
// and the checksums of what it got and what it should have got must agree.
TEST(AudioRing, StressRealtimeConsumerAgainstLateProducer) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 2, 1024, error);
    ASSERT_TRUE(ring) << error;
    constexpr std::uint64_t total = 1u << 20;
    std::atomic<bool> consumer_done{false};

    std::thread producer_thread([&] {
        AudioRingProducer producer(*ring);
        std::mt19937 random(7);
        while (!consumer_done.load(std::memory_order_relaxed)) {
            producer.catch_up();
            if (produce(producer, 2, 1 + random() % 300) == 0) std::this_thread::yield();
        }
    });

    AudioRingConsumer consumer(*ring);
    std::mt19937 random(11);
    std::uint64_t render_time = 0, frames_received = 0, underruns = 0, jumps = 0;
    double received_sum = 0, expected_sum = 0;
    ReadBuffers out(2, 512);
    for (std::uint64_t reads = 0; render_time < total; ++reads) {
        const std::size_t wanted = 1 + random() % 512;
        for (unsigned patience = random() % 4000; patience > 0; --patience) {
            if (consumer.published_until() >= render_time + wanted) break;
            if (patience % 64 == 0) std::this_thread::yield();
        }
        const std::size_t got = consumer.read(render_time, out.pointers.data(), wanted);
        ASSERT_LE(got, wanted);
        if (got < wanted) ++underruns;
        for (std::uint32_t c = 0; c < 2; ++c) {
            for (std::size_t i = 0; i < got; ++i) {
                received_sum += out.data[c][i];
                expected_sum += expected_sample(render_time + i, c);
                if (out.data[c][i] != expected_sample(render_time + i, c)) {
                    FAIL() << "wrong sample at render time " << render_time + i << " channel " << c;
                }
            }
        }
        frames_received += got;
        render_time += wanted;
        if (reads % 97 == 96) {
            render_time += 3000;  // more than the capacity: the producer must catch up
            ++jumps;
        }
    }
    consumer_done = true;
    producer_thread.join();
    EXPECT_EQ(received_sum, expected_sum);
    EXPECT_GT(jumps, 0u);
    EXPECT_GT(frames_received, total / 10) << "the producer should keep up much of the time";
    std::printf("realtime stress: %llu frames received of %llu, %llu underruns, %llu jumps\n",
                static_cast<unsigned long long>(frames_received), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(underruns), static_cast<unsigned long long>(jumps));
}

// The offline-mode consumer waits for every block: nothing may be lost.
TEST(AudioRing, StressWaitingConsumerReceivesEverySampleOnce) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 2, 512, error);
    ASSERT_TRUE(ring) << error;
    constexpr std::uint64_t total = 1u << 20;

    std::thread producer_thread([&] {
        AudioRingProducer producer(*ring);
        std::mt19937 random(3);
        while (producer.write_position() < total) {
            const std::size_t chunk = std::min<std::uint64_t>(1 + random() % 400, total - producer.write_position());
            if (produce(producer, 2, chunk) == 0) std::this_thread::yield();
        }
    });

    AudioRingConsumer consumer(*ring);
    std::mt19937 random(5);
    std::uint64_t render_time = 0;
    double received_sum = 0, expected_sum = 0;
    bool all_equal = true;
    ReadBuffers out(2, 512);
    while (render_time < total) {
        const std::size_t wanted = std::min<std::uint64_t>(1 + random() % 512, total - render_time);
        while (consumer.published_until() < render_time + wanted) std::this_thread::yield();
        ASSERT_EQ(consumer.read(render_time, out.pointers.data(), wanted), wanted);
        for (std::uint32_t c = 0; c < 2; ++c) {
            for (std::size_t i = 0; i < wanted; ++i) {
                received_sum += out.data[c][i];
                expected_sum += expected_sample(render_time + i, c);
                all_equal &= out.data[c][i] == expected_sample(render_time + i, c);
            }
        }
        render_time += wanted;
    }
    producer_thread.join();
    EXPECT_TRUE(all_equal);
    EXPECT_EQ(received_sum, expected_sum);
}

}  // namespace
}  // namespace sostenuto::bridge

namespace sostenuto::bridge {
namespace {

std::vector<const float*> constant_block(std::vector<std::vector<float>>& storage, std::uint32_t channels,
                                         std::size_t frames, float value) {
    storage.assign(channels, std::vector<float>(frames, value));
    std::vector<const float*> pointers;
    for (auto& channel : storage) pointers.push_back(channel.data());
    return pointers;
}

// A splice cross-fades from the old audio to the new, moves the write
// position to its end (down as well as up) and never touches claimed slots.
TEST(AudioRing, SpliceCrossFadesAboveTheClaimAndMovesTheWritePosition) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 1, 256, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    std::vector<std::vector<float>> storage;
    ASSERT_EQ(producer.write(constant_block(storage, 1, 200, 1.0f).data(), 200), 200u);
    ReadBuffers first(1, 40);
    ASSERT_EQ(consumer.read(0, first.pointers.data(), 40), 40u);  // claims [0, 40)

    // Asked to splice from 30: the consumer has claimed up to 40, so the new audio starts there.
    const std::uint64_t start = producer.splice(30, constant_block(storage, 1, 100, 3.0f).data(), 100, 8);
    EXPECT_EQ(start, 40u);
    EXPECT_EQ(producer.write_position(), 130u);  // retracted from 200
    ReadBuffers out(1, 100, -1.0f);
    ASSERT_EQ(consumer.read(40, out.pointers.data(), 100), 90u);  // published until 130
    for (std::size_t i = 0; i < 8; ++i) {
        const float gain = (i + 0.5f) / 8.0f;
        EXPECT_FLOAT_EQ(out.data[0][i], 1.0f + 2.0f * gain) << i;
    }
    for (std::size_t i = 8; i < 90; ++i) EXPECT_EQ(out.data[0][i], 3.0f) << i;

    // A splice the consumer has entirely passed publishes nothing new and leaves the position at the claim.
    EXPECT_EQ(producer.splice(100, constant_block(storage, 1, 20, 5.0f).data(), 20, 8), 140u);
    EXPECT_EQ(producer.write_position(), 140u);
}

// A consumer that claims a block while a splice is in progress (the
// producer announced it and has not finished) copies nothing at or above the
// splice's start: that audio may be half old, half new.
TEST(AudioRing, AConsumerStopsShortAtASpliceInProgress) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 1, 256, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    std::vector<std::vector<float>> storage;
    ASSERT_EQ(producer.write(constant_block(storage, 1, 100, 1.0f).data(), 100), 100u);
    ring->splice_start().store(50);  // as splice() does before it looks at the claim
    ReadBuffers out(1, 64);
    EXPECT_EQ(consumer.read(0, out.pointers.data(), 64), 50u);
    EXPECT_EQ(ring->read_claim().load(), 64u) << "the claim covers the whole block";
    ring->splice_start().store(audio_ring_layout::no_splice);
    EXPECT_EQ(consumer.read(64, out.pointers.data(), 36), 36u);
}

// Reader against a producer that splices all the time (ThreadSanitizer runs
// this too). Channel 0 carries the render time, channel 1 the generation of
// the audio (each splice is a new generation). In every state of the ring the
// generation changes only at the start of the splice that made it, so a read
// that sees it change anywhere else has read a block torn by a splice; and a
// slot holding another render time is a stale read.
TEST(AudioRing, StressSplicesNeverTearARead) {
    std::string error;
    auto ring = SharedAudioRing::create(unique_ring_name(), 2, 4096, error);
    ASSERT_TRUE(ring) << error;
    constexpr std::uint64_t total = 1u << 19;
    constexpr std::size_t max_generations = 1u << 16;
    std::vector<std::atomic<std::uint64_t>> splice_starts(max_generations);
    std::atomic<bool> consumer_done{false};
    std::atomic<std::uint64_t> splices{0};

    std::thread producer_thread([&] {
        AudioRingProducer producer(*ring);
        std::mt19937 random(17);
        std::uint32_t generation = 0;
        std::vector<float> times(2048), generations(2048);
        while (!consumer_done.load(std::memory_order_relaxed)) {
            producer.catch_up();
            const std::uint64_t w = producer.write_position();
            const std::uint64_t claim = ring->read_claim().load(std::memory_order_relaxed);
            const bool splice = generation + 1 < max_generations && w > claim + 64 && random() % 3 == 0;
            const std::uint64_t from = splice ? claim + random() % (w - claim) : w;
            const std::size_t frames = 1 + random() % 1024;
            if (splice) ++generation;
            for (std::size_t i = 0; i < frames; ++i) {
                times[i] = static_cast<float>((from + i) % (1u << 20));
                generations[i] = static_cast<float>(generation);
            }
            const float* pointers[2] = {times.data(), generations.data()};
            if (splice) {
                const std::uint64_t start = producer.splice(from, pointers, frames, 0);
                splice_starts[generation].store(start, std::memory_order_relaxed);
                splices.fetch_add(1, std::memory_order_relaxed);
            } else if (producer.write(pointers, std::min(frames, producer.writable_frames())) == 0) {
                std::this_thread::yield();
            }
            if (random() % 8 == 0) std::this_thread::yield();
        }
    });

    AudioRingConsumer consumer(*ring);
    std::mt19937 random(19);
    std::uint64_t render_time = 0, frames_received = 0, underruns = 0;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> changes;  // (render time, new generation), checked at the end
    ReadBuffers out(2, 256);
    float last_generation = 0;
    while (render_time < total) {
        const std::size_t wanted = 1 + random() % 256;
        for (unsigned patience = random() % 2000; patience > 0; --patience) {
            if (consumer.published_until() >= render_time + wanted) break;
            if (patience % 64 == 0) std::this_thread::yield();
        }
        const std::size_t got = consumer.read(render_time, out.pointers.data(), wanted);
        if (got < wanted) ++underruns;
        for (std::size_t i = 0; i < got; ++i) {
            ASSERT_EQ(out.data[0][i], static_cast<float>((render_time + i) % (1u << 20))) << "stale slot at " << render_time + i;
            const float generation = out.data[1][i];
            ASSERT_GE(generation, i == 0 ? 0.0f : out.data[1][i - 1]) << "generation went back inside a read";
            if (i > 0 && generation != out.data[1][i - 1]) changes.emplace_back(render_time + i, static_cast<std::uint32_t>(generation));
        }
        if (got > 0) last_generation = out.data[1][got - 1];
        frames_received += got;
        render_time += wanted;
    }
    consumer_done = true;
    producer_thread.join();
    (void)last_generation;
    for (const auto& [time, generation] : changes)
        EXPECT_EQ(time, splice_starts[generation].load()) << "a read changed generation away from a splice start (torn read)";
    EXPECT_GT(splices.load(), 100u);
    EXPECT_GT(frames_received, total / 4);
    std::printf("splice stress: %llu splices, %zu seen inside reads, %llu frames received of %llu, %llu underruns\n",
                static_cast<unsigned long long>(splices.load()), changes.size(),
                static_cast<unsigned long long>(frames_received), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(underruns));
}

}  // namespace
}  // namespace sostenuto::bridge
