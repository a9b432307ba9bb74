#include "sostenuto/bridge/spsc_byte_queue.h"

#include <algorithm>
#include <cstring>

namespace sostenuto::bridge {
namespace {

std::size_t round_up_to_power_of_two(std::size_t value) {
    std::size_t result = 64;
    while (result < value) result <<= 1;
    return result;
}

}  // namespace

SpscByteQueue::SpscByteQueue(std::size_t capacity)
    // Zeroed here, so every page is touched by the constructing thread: a
    // first-touch page fault on the producer (audio) thread would wait for the
    // process's mmap lock whenever another thread maps or unmaps memory.
    : capacity_(round_up_to_power_of_two(capacity)), storage_(new std::uint8_t[capacity_]()) {}

bool SpscByteQueue::push(const std::uint8_t* data, std::size_t size) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);  // ours
    // Acquire: the consumer has finished copying out of the bytes it released.
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    if (size > capacity_ - static_cast<std::size_t>(tail - head)) return false;
    const std::size_t start = static_cast<std::size_t>(tail & (capacity_ - 1));
    const std::size_t first = std::min(size, capacity_ - start);
    std::memcpy(storage_.get() + start, data, first);
    std::memcpy(storage_.get(), data + first, size - first);
    tail_.store(tail + size, std::memory_order_release);
    return true;
}

std::size_t SpscByteQueue::pop(std::uint8_t* out, std::size_t max_size) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);  // ours
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t size = std::min(max_size, static_cast<std::size_t>(tail - head));
    const std::size_t start = static_cast<std::size_t>(head & (capacity_ - 1));
    const std::size_t first = std::min(size, capacity_ - start);
    std::memcpy(out, storage_.get() + start, first);
    std::memcpy(out + first, storage_.get(), size - first);
    head_.store(head + size, std::memory_order_release);
    return size;
}

bool SpscByteQueue::empty() const noexcept {
    return tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_relaxed);
}

}  // namespace sostenuto::bridge
