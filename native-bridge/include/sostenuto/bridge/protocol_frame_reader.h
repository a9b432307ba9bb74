// Reassembles frames from a byte stream that arrives in arbitrary pieces
// (a socket read may end anywhere, even inside the header).
//
// The reader owns one frame's worth of storage (allocated once, at
// construction) and refuses a bad header as soon as its 8 bytes are in, so a
// peer can never make it wait for, or buffer, more than max_frame_size bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sostenuto/bridge/protocol_decoder.h"
#include "sostenuto/bridge/protocol_error.h"

namespace sostenuto::bridge {

class ProtocolFrameReader {
public:
    enum class State { need_more, frame_ready, failed };

    ProtocolFrameReader();

    // Takes bytes until a frame is complete (or the stream is found broken) and
    // returns how many it took; the caller offers the rest again after it has
    // handled the frame and called next_frame().
    std::size_t push(const std::uint8_t* data, std::size_t size) noexcept;

    State state() const noexcept { return state_; }
    ProtocolError error() const noexcept { return error_; }

    // The complete frame (header + payload) when state() is frame_ready.
    const std::uint8_t* frame() const noexcept { return buffer_.get(); }
    std::size_t frame_size() const noexcept { return filled_; }
    // Decodes the ready frame; a decode error also puts the reader in `failed`.
    DecodeResult decode_ready_frame() noexcept;

    // Forgets the ready frame and starts collecting the next one.
    void next_frame() noexcept;

    // Back to the start of a new stream (a new connection), failed or not.
    void reset() noexcept;

private:
    std::unique_ptr<std::uint8_t[]> buffer_;
    std::size_t filled_ = 0;
    std::size_t expected_ = frame_header_size;  // header first, then header + payload
    State state_ = State::need_more;
    ProtocolError error_ = ProtocolError::none;
};

}  // namespace sostenuto::bridge
