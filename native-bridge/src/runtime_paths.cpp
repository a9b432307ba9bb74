#include "sostenuto/bridge/runtime_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <system_error>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sostenuto::bridge {
namespace {

// A directory is usable if it is a real directory (not a symlink planted by
// someone else), ours, and closed to group and others.
bool is_private_directory(const std::string& path, std::string& error) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
        error = "runtime directory " + path + ": " + std::system_category().message(errno);
        return false;
    }
    if (!S_ISDIR(info.st_mode)) {
        error = "runtime directory " + path + " is not a directory";
        return false;
    }
    if (info.st_uid != ::geteuid()) {
        error = "runtime directory " + path + " belongs to another user";
        return false;
    }
    if ((info.st_mode & 077) != 0) {
        error = "runtime directory " + path + " is accessible to other users (mode 0700 required)";
        return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> runtime_directory(std::string& error) {
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && xdg[0] == '/') {
        const std::string path(xdg);
        if (is_private_directory(path, error)) return path;
        return std::nullopt;
    }
    const std::string path = "/tmp/sostenuto-" + std::to_string(::geteuid());
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        error = "runtime directory " + path + ": " + std::system_category().message(errno);
        return std::nullopt;
    }
    if (!is_private_directory(path, error)) return std::nullopt;
    return path;
}

std::optional<std::string> engine_socket_path(std::string& error) {
    auto directory = runtime_directory(error);
    if (!directory) return std::nullopt;
    return *directory + "/" + engine_socket_file_name;
}

std::string audio_ring_name(std::uint64_t instance_id) {
    char name[64];
    std::snprintf(name, sizeof name, "/sostenuto-%u-%016" PRIx64, static_cast<unsigned>(::geteuid()), instance_id);
    return name;
}

std::uint64_t random_instance_id() {
    std::random_device device;
    std::uint64_t id = (std::uint64_t{device()} << 32) ^ device();
    id ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return id != 0 ? id : 1;
}

}  // namespace sostenuto::bridge
