// The audio ring: single-producer single-consumer, in POSIX shared memory,
// indexed by render time.
//
// The engine (producer) writes the audio for render times [w, w+n) and then
// publishes w+n; the plug-in's audio thread (consumer) reads [r, r+n) once the
// published position has reached r+n, and publishes how far it has read so the
// producer knows which slots it may overwrite. Render time t lives in slot
// t mod capacity. Both sides are wait-free: no locks, no system calls and no
// allocation once the memory is mapped. docs/protocol.md ("The audio ring")
// gives the layout byte for byte; the C# engine maps the same memory.
//
// Layout version 2 lets the producer splice: replace published audio that the
// consumer has not read yet (live mode's speculative audio, after a note
// arrived). The consumer claims a block before it copies it; the producer
// announces where a splice starts before it looks at the claim. Both use
// sequentially consistent accesses, so at least one side sees the other's
// word: either the producer sees the claim and starts the splice above it, or
// the consumer sees the splice and copies nothing at or above its start.
// Neither can read a block torn between old and new audio.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sostenuto::bridge {

// Byte offsets of the shared-memory layout (docs/protocol.md).
namespace audio_ring_layout {
inline constexpr char magic[8] = {'S', 'O', 'S', 'T', 'R', 'I', 'N', 'G'};
inline constexpr std::uint32_t version = 2;
inline constexpr std::size_t magic_offset = 0;
inline constexpr std::size_t version_offset = 8;
inline constexpr std::size_t channels_offset = 12;
inline constexpr std::size_t capacity_offset = 16;
inline constexpr std::size_t data_offset_offset = 20;
inline constexpr std::size_t total_size_offset = 24;
// Each position has a 128-byte slot of its own: two cache lines, because
// x86's adjacent-line prefetcher pulls 64-byte lines in pairs, and a shared
// pair would bounce between the producer's and the consumer's cores.
inline constexpr std::size_t write_position_offset = 128;
// Beside the write position (the producer stores both): where a splice in
// progress starts, or no_splice.
inline constexpr std::size_t splice_start_offset = 136;
inline constexpr std::size_t read_position_offset = 256;
// Beside the read position (the consumer stores both): the end of the block
// the consumer is reading or is about to read.
inline constexpr std::size_t read_claim_offset = 264;
inline constexpr std::uint64_t no_splice = ~std::uint64_t{0};
inline constexpr std::size_t data_offset = 384;
inline constexpr std::uint32_t max_channels = 64;
inline constexpr std::uint32_t min_capacity_frames = 16;
inline constexpr std::uint32_t max_capacity_frames = 1u << 24;

constexpr std::size_t total_size(std::uint32_t channels, std::uint32_t capacity_frames) {
    return data_offset + std::size_t{channels} * capacity_frames * sizeof(float);
}
}  // namespace audio_ring_layout

// A mapping of one ring. The plug-in creates (and owns, and unlinks) it; the
// engine, a test or a JACK front end opens it by name.
class SharedAudioRing {
public:
    // Creates a new object (it must not exist yet) with mode 0600 and writes
    // the header. capacity_frames must be a power of two (slots are t & (capacity-1)).
    // Returns nullptr and a reason in `error` on failure.
    static std::unique_ptr<SharedAudioRing> create(const std::string& name, std::uint32_t channels,
                                                   std::uint32_t capacity_frames, std::string& error);
    // Maps an existing ring and validates its header and size against the
    // object's real size, and that it belongs to this user with no group/other access.
    static std::unique_ptr<SharedAudioRing> open(const std::string& name, std::string& error);

    ~SharedAudioRing();
    SharedAudioRing(const SharedAudioRing&) = delete;
    SharedAudioRing& operator=(const SharedAudioRing&) = delete;

    const std::string& name() const noexcept { return name_; }
    std::uint32_t channels() const noexcept { return channels_; }
    std::uint32_t capacity_frames() const noexcept { return capacity_frames_; }
    bool owns_name() const noexcept { return owner_; }

    // Sets both positions to `render_time`. Only while no producer or consumer
    // is running (between sessions): the owner does it before each Hello.
    void reset_positions(std::uint64_t render_time = 0) noexcept;

    std::atomic<std::uint64_t>& write_position() noexcept { return *write_position_; }
    std::atomic<std::uint64_t>& read_position() noexcept { return *read_position_; }
    std::atomic<std::uint64_t>& splice_start() noexcept { return *splice_start_; }
    std::atomic<std::uint64_t>& read_claim() noexcept { return *read_claim_; }
    float* channel_data(std::uint32_t channel) noexcept { return samples_ + std::size_t{channel} * capacity_frames_; }

private:
    SharedAudioRing() = default;
    bool map(int fd, std::size_t size, std::string& error);

    std::string name_;
    bool owner_ = false;
    void* mapping_ = nullptr;
    std::size_t mapping_size_ = 0;
    std::uint32_t channels_ = 0;
    std::uint32_t capacity_frames_ = 0;
    std::atomic<std::uint64_t>* write_position_ = nullptr;
    std::atomic<std::uint64_t>* read_position_ = nullptr;
    std::atomic<std::uint64_t>* splice_start_ = nullptr;
    std::atomic<std::uint64_t>* read_claim_ = nullptr;
    float* samples_ = nullptr;
};

// The engine's side (in C++ for tests and native tools; the engine itself is C#).
// Use from one thread at a time.
class AudioRingProducer {
public:
    explicit AudioRingProducer(SharedAudioRing& ring) noexcept : ring_(ring) {}

    // The render time the next write() starts at.
    std::uint64_t write_position() const noexcept;
    // How many frames write() can take now.
    std::size_t writable_frames() const noexcept;
    // Writes up to `frames` frames (one pointer per channel) at the write
    // position and publishes them (release). Returns how many were written.
    std::size_t write(const float* const* channels, std::size_t frames) noexcept;
    // If the consumer has moved past the write position (it played an
    // underrun), skips the write position forward to it: audio for times the
    // consumer has passed would never be heard. Returns the write position.
    std::uint64_t catch_up() noexcept;
    // Replaces the published audio from render time `from` on with `frames`
    // new frames, cross-faded linearly from the old audio over the first
    // `cross_fade` frames, and moves the write position to from + frames (it
    // may go down: audio beyond is no longer valid). Slots the consumer has
    // claimed are never touched: the splice starts at max(from, claim) and
    // the new audio before that is dropped. Returns the render time at which
    // the new audio starts being heard. The caller keeps from + frames within
    // a capacity of the read position.
    std::uint64_t splice(std::uint64_t from, const float* const* channels, std::size_t frames,
                         std::size_t cross_fade) noexcept;

private:
    SharedAudioRing& ring_;
};

// The plug-in's audio-thread side. Wait-free; use from one thread at a time.
class AudioRingConsumer {
public:
    explicit AudioRingConsumer(SharedAudioRing& ring) noexcept : ring_(ring) {}

    // The render time up to which audio is published (acquire): the offline
    // wait polls this.
    std::uint64_t published_until() const noexcept;
    // Copies the audio for render times [render_time, render_time + frames)
    // that is published, as a contiguous prefix, into `out` (one pointer per
    // channel) and returns its length: less than `frames` is an underrun, and
    // the caller fades and fills the rest. Either way the consumer then moves
    // past render_time + frames. Render times must not go backwards: a read
    // before the read position returns 0 (those slots may be rewritten).
    std::size_t read(std::uint64_t render_time, float* const* out, std::size_t frames) noexcept;

private:
    SharedAudioRing& ring_;
};

}  // namespace sostenuto::bridge
