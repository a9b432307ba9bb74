#include "sostenuto/bridge/protocol_frame_reader.h"

#include <algorithm>
#include <cstring>

namespace sostenuto::bridge {

ProtocolFrameReader::ProtocolFrameReader() : buffer_(new std::uint8_t[max_frame_size]) {}

std::size_t ProtocolFrameReader::push(const std::uint8_t* data, std::size_t size) noexcept {
    std::size_t taken = 0;
    while (state_ == State::need_more && taken < size) {
        const std::size_t wanted = std::min(expected_ - filled_, size - taken);
        std::memcpy(buffer_.get() + filled_, data + taken, wanted);
        filled_ += wanted;
        taken += wanted;
        if (filled_ < expected_) break;
        if (expected_ == frame_header_size) {
            // The header is in: judge it before waiting for (up to 64 KiB of) payload.
            FrameHeader header;
            if (const ProtocolError e = parse_frame_header(buffer_.get(), header); e != ProtocolError::none) {
                error_ = e;
                state_ = State::failed;
                break;
            }
            expected_ = frame_header_size + header.payload_size;
            if (filled_ < expected_) continue;  // a payload follows
        }
        state_ = State::frame_ready;
    }
    return taken;
}

DecodeResult ProtocolFrameReader::decode_ready_frame() noexcept {
    if (state_ != State::frame_ready) {
        DecodeResult result;
        result.error = state_ == State::failed ? error_ : ProtocolError::truncated_frame;
        return result;
    }
    DecodeResult result = decode_frame(buffer_.get(), filled_);
    if (!result.ok()) {
        error_ = result.error;
        state_ = State::failed;
    }
    return result;
}

void ProtocolFrameReader::next_frame() noexcept {
    if (state_ != State::frame_ready) return;  // a failed stream stays failed
    filled_ = 0;
    expected_ = frame_header_size;
    state_ = State::need_more;
}

void ProtocolFrameReader::reset() noexcept {
    filled_ = 0;
    expected_ = frame_header_size;
    state_ = State::need_more;
    error_ = ProtocolError::none;
}

}  // namespace sostenuto::bridge
