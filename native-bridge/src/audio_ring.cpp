#include "sostenuto/bridge/audio_ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <cstring>
#include <new>

#include "sostenuto/bridge/byte_order.h"

namespace sostenuto::bridge {
namespace layout = audio_ring_layout;

// The positions are plain 8-byte words that the C# side reads with
// Volatile.Read / Interlocked: that is only sound if std::atomic<uint64_t> is
// exactly such a word, with no lock hidden beside it.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "ring positions must be lock-free");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8, "ring positions must be plain 8-byte words");

namespace {

std::string errno_text(const char* what, const std::string& name) {
    return std::string(what) + " '" + name + "': " + std::system_category().message(errno);
}

bool is_power_of_two(std::uint32_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Copies `frames` frames between the ring and linear buffers, in at most two
// pieces (the second when the range wraps past the end of the slots).
template <typename CopyPiece>
void for_each_piece(std::uint64_t render_time, std::size_t frames, std::uint32_t capacity, CopyPiece&& copy) {
    const std::size_t first_slot = static_cast<std::size_t>(render_time & (capacity - 1));
    const std::size_t first_piece = std::min(frames, capacity - first_slot);
    copy(first_slot, std::size_t{0}, first_piece);
    if (first_piece < frames) copy(std::size_t{0}, first_piece, frames - first_piece);
}

}  // namespace

std::unique_ptr<SharedAudioRing> SharedAudioRing::create(const std::string& name, std::uint32_t channels,
                                                         std::uint32_t capacity_frames, std::string& error) {
    if (channels == 0 || channels > layout::max_channels) {
        error = "audio ring: channels must be 1.." + std::to_string(layout::max_channels);
        return nullptr;
    }
    if (!is_power_of_two(capacity_frames) || capacity_frames < layout::min_capacity_frames ||
        capacity_frames > layout::max_capacity_frames) {
        error = "audio ring: capacity must be a power of two in 16..2^24 frames";
        return nullptr;
    }
    // O_EXCL: never adopt an object someone else prepared under our name.
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = errno_text("audio ring: shm_open(create)", name);
        return nullptr;
    }
    const std::size_t size = layout::total_size(channels, capacity_frames);
    std::unique_ptr<SharedAudioRing> ring(new SharedAudioRing());
    ring->name_ = name;
    ring->owner_ = true;  // from here on, the destructor unlinks the name
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        error = errno_text("audio ring: ftruncate", name);
        ::close(fd);
        return nullptr;
    }
    const bool mapped = ring->map(fd, size, error);
    ::close(fd);
    if (!mapped) return nullptr;

    // Touch every page now, off the audio thread, so the consumer's first reads
    // do not take page faults.
    auto* base = static_cast<std::uint8_t*>(ring->mapping_);
    std::memset(base, 0, size);
    byte_order::store_u32(base + layout::version_offset, layout::version);
    byte_order::store_u32(base + layout::channels_offset, channels);
    byte_order::store_u32(base + layout::capacity_offset, capacity_frames);
    byte_order::store_u32(base + layout::data_offset_offset, static_cast<std::uint32_t>(layout::data_offset));
    byte_order::store_u64(base + layout::total_size_offset, size);
    ring->channels_ = channels;
    ring->capacity_frames_ = capacity_frames;
    ring->write_position_ = new (base + layout::write_position_offset) std::atomic<std::uint64_t>(0);
    ring->read_position_ = new (base + layout::read_position_offset) std::atomic<std::uint64_t>(0);
    ring->splice_start_ = new (base + layout::splice_start_offset) std::atomic<std::uint64_t>(layout::no_splice);
    ring->read_claim_ = new (base + layout::read_claim_offset) std::atomic<std::uint64_t>(0);
    ring->samples_ = reinterpret_cast<float*>(base + layout::data_offset);
    // The magic goes in last, so a half-made ring never looks like one. (What
    // orders these writes before the engine's reads is the Hello that names
    // the ring: it is sent only after create() returns.)
    std::memcpy(base + layout::magic_offset, layout::magic, sizeof layout::magic);
    return ring;
}

std::unique_ptr<SharedAudioRing> SharedAudioRing::open(const std::string& name, std::string& error) {
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        error = errno_text("audio ring: shm_open(open)", name);
        return nullptr;
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        error = errno_text("audio ring: fstat", name);
        ::close(fd);
        return nullptr;
    }
    if (info.st_uid != ::geteuid() || (info.st_mode & 077) != 0) {
        error = "audio ring: '" + name + "' is not private to this user (owner and mode 0600 required)";
        ::close(fd);
        return nullptr;
    }
    const auto size = static_cast<std::size_t>(info.st_size);
    if (size < layout::data_offset) {
        error = "audio ring: '" + name + "' is smaller than the ring header";
        ::close(fd);
        return nullptr;
    }
    std::unique_ptr<SharedAudioRing> ring(new SharedAudioRing());
    ring->name_ = name;
    const bool mapped = ring->map(fd, size, error);
    ::close(fd);
    if (!mapped) return nullptr;

    const auto* base = static_cast<const std::uint8_t*>(ring->mapping_);
    if (std::memcmp(base + layout::magic_offset, layout::magic, sizeof layout::magic) != 0) {
        error = "audio ring: '" + name + "' has no ring header (bad magic)";
        return nullptr;
    }
    const std::uint32_t version = byte_order::load_u32(base + layout::version_offset);
    const std::uint32_t channels = byte_order::load_u32(base + layout::channels_offset);
    const std::uint32_t capacity = byte_order::load_u32(base + layout::capacity_offset);
    const std::uint32_t data_offset = byte_order::load_u32(base + layout::data_offset_offset);
    const std::uint64_t total_size = byte_order::load_u64(base + layout::total_size_offset);
    if (version != layout::version) {
        error = "audio ring: '" + name + "' has layout version " + std::to_string(version) + ", expected " +
                std::to_string(layout::version);
        return nullptr;
    }
    if (channels == 0 || channels > layout::max_channels || !is_power_of_two(capacity) ||
        capacity < layout::min_capacity_frames || capacity > layout::max_capacity_frames ||
        data_offset != layout::data_offset || total_size != layout::total_size(channels, capacity) ||
        total_size != size) {
        error = "audio ring: '" + name + "' has an inconsistent header";
        return nullptr;
    }
    auto* bytes = static_cast<std::uint8_t*>(ring->mapping_);
    ring->channels_ = channels;
    ring->capacity_frames_ = capacity;
    ring->write_position_ = reinterpret_cast<std::atomic<std::uint64_t>*>(bytes + layout::write_position_offset);
    ring->read_position_ = reinterpret_cast<std::atomic<std::uint64_t>*>(bytes + layout::read_position_offset);
    ring->splice_start_ = reinterpret_cast<std::atomic<std::uint64_t>*>(bytes + layout::splice_start_offset);
    ring->read_claim_ = reinterpret_cast<std::atomic<std::uint64_t>*>(bytes + layout::read_claim_offset);
    ring->samples_ = reinterpret_cast<float*>(bytes + layout::data_offset);
    return ring;
}

bool SharedAudioRing::map(int fd, std::size_t size, std::string& error) {
    void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
        error = errno_text("audio ring: mmap", name_);
        return false;
    }
    mapping_ = mapping;
    mapping_size_ = size;
    return true;
}

SharedAudioRing::~SharedAudioRing() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
    if (owner_) ::shm_unlink(name_.c_str());
}

void SharedAudioRing::reset_positions(std::uint64_t render_time) noexcept {
    read_position_->store(render_time, std::memory_order_release);
    read_claim_->store(render_time, std::memory_order_release);
    splice_start_->store(layout::no_splice, std::memory_order_release);
    write_position_->store(render_time, std::memory_order_release);
}

// ---- producer ---------------------------------------------------------------

std::uint64_t AudioRingProducer::write_position() const noexcept {
    // Only the producer stores it, so its own last value needs no ordering.
    return ring_.write_position().load(std::memory_order_relaxed);
}

std::size_t AudioRingProducer::writable_frames() const noexcept {
    const std::uint64_t write = write_position();
    // Acquire: the consumer finished reading those slots before it published this.
    const std::uint64_t read = ring_.read_position().load(std::memory_order_acquire);
    const std::uint64_t capacity = ring_.capacity_frames();
    if (read >= write) return static_cast<std::size_t>(capacity);
    const std::uint64_t used = write - read;
    return used >= capacity ? 0 : static_cast<std::size_t>(capacity - used);
}

std::size_t AudioRingProducer::write(const float* const* channels, std::size_t frames) noexcept {
    const std::size_t count = std::min(frames, writable_frames());
    if (count == 0) return 0;
    const std::uint64_t write = write_position();
    for (std::uint32_t c = 0; c < ring_.channels(); ++c) {
        float* slots = ring_.channel_data(c);
        const float* in = channels[c];
        for_each_piece(write, count, ring_.capacity_frames(), [&](std::size_t slot, std::size_t offset, std::size_t n) {
            std::memcpy(slots + slot, in + offset, n * sizeof(float));
        });
    }
    // Release: the samples above are visible before the new position is.
    ring_.write_position().store(write + count, std::memory_order_release);
    return count;
}

std::uint64_t AudioRingProducer::catch_up() noexcept {
    const std::uint64_t write = write_position();
    const std::uint64_t read = ring_.read_position().load(std::memory_order_acquire);
    if (read <= write) return write;
    // Nothing is written for [write, read): the consumer has passed those times
    // and, reading forwards only, never asks for them.
    ring_.write_position().store(read, std::memory_order_release);
    return read;
}

std::uint64_t AudioRingProducer::splice(std::uint64_t from, const float* const* channels, std::size_t frames,
                                        std::size_t cross_fade) noexcept {
    const std::uint64_t old_write = write_position();
    // Never announce below what the consumer has already claimed (it may be
    // copying that block now and would stop short at the announcement): only
    // its next claim can meet a splice in progress.
    const std::uint64_t announced = std::max(from, ring_.read_claim().load(std::memory_order_relaxed));
    // Announce first, then look at the claim (both sequentially consistent):
    // a consumer whose claim this load misses sees the announcement instead.
    ring_.splice_start().store(announced, std::memory_order_seq_cst);
    const std::uint64_t claim = ring_.read_claim().load(std::memory_order_seq_cst);
    const std::uint64_t start = std::max(announced, claim);
    // Acquire: the consumer's reads of the slots of the previous lap are done.
    const std::uint64_t read = ring_.read_position().load(std::memory_order_acquire);
    const std::uint64_t end = std::min<std::uint64_t>(from + frames, read + ring_.capacity_frames());
    if (start < end) {
        // Old audio exists below old_write only; fade over what there is of it.
        const std::uint64_t old_span = old_write > start ? old_write - start : 0;
        const std::size_t fade = static_cast<std::size_t>(std::min<std::uint64_t>({cross_fade, old_span, end - start}));
        const std::uint64_t mask = ring_.capacity_frames() - 1;
        for (std::uint32_t c = 0; c < ring_.channels(); ++c) {
            float* slots = ring_.channel_data(c);
            const float* in = channels[c] + (start - from);
            for (std::size_t i = 0; i < fade; ++i) {
                const float gain = (static_cast<float>(i) + 0.5f) / static_cast<float>(fade);
                float& slot = slots[(start + i) & mask];
                slot = slot + (in[i] - slot) * gain;
            }
            for (std::uint64_t t = start + fade; t < end; ++t) slots[t & mask] = in[t - start];
        }
    }
    // Release: the new samples are visible before the position and before the splice ends.
    ring_.write_position().store(std::max(start, end), std::memory_order_release);
    ring_.splice_start().store(layout::no_splice, std::memory_order_release);
    return start;
}

// ---- consumer ---------------------------------------------------------------

std::uint64_t AudioRingConsumer::published_until() const noexcept {
    return ring_.write_position().load(std::memory_order_acquire);
}

std::size_t AudioRingConsumer::read(std::uint64_t render_time, float* const* out, std::size_t frames) noexcept {
    // Only the consumer stores the read position.
    const std::uint64_t read_position = ring_.read_position().load(std::memory_order_relaxed);
    if (render_time < read_position) return 0;
    // Claim the block, then look for a splice (both sequentially consistent;
    // see the header): a splice that started before the claim was visible
    // keeps us below its start, one that started after stays above the claim.
    ring_.read_claim().store(render_time + frames, std::memory_order_seq_cst);
    const std::uint64_t splice_start = ring_.splice_start().load(std::memory_order_seq_cst);
    // Acquire: pairs with the producer's release, so the samples below
    // [render_time, published) are the ones it wrote.
    const std::uint64_t published =
        std::min(ring_.write_position().load(std::memory_order_acquire), splice_start);
    std::size_t available = 0;
    if (published > render_time) {
        available = static_cast<std::size_t>(std::min<std::uint64_t>(frames, published - render_time));
        // A producer never runs more than a capacity ahead of the read
        // position; one that claims to (a bug) gets no more than that read.
        available = std::min<std::size_t>(available, ring_.capacity_frames());
    }
    for (std::uint32_t c = 0; c < ring_.channels(); ++c) {
        const float* slots = ring_.channel_data(c);
        float* to = out[c];
        for_each_piece(render_time, available, ring_.capacity_frames(),
                       [&](std::size_t slot, std::size_t offset, std::size_t n) {
                           std::memcpy(to + offset, slots + slot, n * sizeof(float));
                       });
    }
    // Release: our reads of these slots happen before the producer may reuse them.
    ring_.read_position().store(render_time + frames, std::memory_order_release);
    return available;
}

}  // namespace sostenuto::bridge
