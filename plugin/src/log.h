// Logging to stderr, prefixed "sostenuto-vst3: ". SOSTENUTO_VST3_LOG=0 silences it.
#pragma once

#include <cstdint>

namespace sostenuto::vst3 {

// Control thread only (formats with stdio, which locks).
void log_message(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Safe where stdio is not: no allocation, no locks - one write(2) of
// "<prefix><text><number><suffix>\n". Used by the offline wait, which has
// already blocked for seconds when it reports.
void log_unlocked(const char* text, std::uint64_t number, const char* suffix) noexcept;

}  // namespace sostenuto::vst3
