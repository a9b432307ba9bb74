// Where the engine's socket lives, and what the shared memory is called.
//
// Everything is private to the user: the directory is $XDG_RUNTIME_DIR (which
// the system creates with mode 0700) or else /tmp/sostenuto-$UID, created with
// mode 0700 and refused if someone else owns it or it is open to others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sostenuto::bridge {

inline constexpr const char* engine_socket_file_name = "sostenuto-engine.sock";

// The runtime directory (created if needed), or nullopt with the reason in `error`.
std::optional<std::string> runtime_directory(std::string& error);

// <runtime directory>/sostenuto-engine.sock.
std::optional<std::string> engine_socket_path(std::string& error);

// "/sostenuto-<uid>-<instance id as 16 hex digits>": the plug-in instance's
// audio ring, as shm_open expects it. The uid keeps users apart in /dev/shm.
std::string audio_ring_name(std::uint64_t instance_id);

// A new front-end instance's id: random, never 0, stable across the
// instance's engine sessions (it names the ring). Not for the audio thread.
std::uint64_t random_instance_id();

}  // namespace sostenuto::bridge
