// A lock-free single-producer single-consumer queue of bytes, in process memory.
//
// The audio thread (producer) pushes encoded frames; the pipe client's I/O
// thread (consumer) pops them and does the blocking socket writes. A push is
// all or nothing, so the queue only ever holds whole frames and the stream
// stays framed even when a push fails for lack of room.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace sostenuto::bridge {

class SpscByteQueue {
public:
    // capacity is rounded up to a power of two; the storage is allocated here, once.
    explicit SpscByteQueue(std::size_t capacity);

    std::size_t capacity() const noexcept { return capacity_; }

    // Producer: copies all `size` bytes in and returns true, or copies nothing
    // and returns false if they do not fit. Wait-free, no allocation.
    bool push(const std::uint8_t* data, std::size_t size) noexcept;

    // Consumer: copies up to `max_size` bytes out and returns how many.
    std::size_t pop(std::uint8_t* out, std::size_t max_size) noexcept;

    // Consumer's view of whether anything is queued (acquire).
    bool empty() const noexcept;

private:
    std::size_t capacity_;
    std::unique_ptr<std::uint8_t[]> storage_;
    // Separate 128-byte slots: the producer writes tail_, the consumer head_.
    alignas(128) std::atomic<std::uint64_t> head_{0};  // bytes popped so far
    alignas(128) std::atomic<std::uint64_t> tail_{0};  // bytes pushed so far
};

}  // namespace sostenuto::bridge
