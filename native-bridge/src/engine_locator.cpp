#include "sostenuto/bridge/engine_locator.h"

#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace sostenuto::bridge {
namespace {

enum class FileCheck { usable, missing, not_regular, not_executable, not_readable };

const char* describe(FileCheck check) {
    switch (check) {
        case FileCheck::usable: return "found";
        case FileCheck::missing: return "not found";
        case FileCheck::not_regular: return "not a regular file";
        case FileCheck::not_executable: return "not executable";
        case FileCheck::not_readable: return "not readable";
    }
    return "?";
}

FileCheck check_file(const std::string& path, bool executable) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return FileCheck::missing;
    if (!S_ISREG(info.st_mode)) return FileCheck::not_regular;
    if (::access(path.c_str(), executable ? X_OK : R_OK) != 0) {
        return executable ? FileCheck::not_executable : FileCheck::not_readable;
    }
    return FileCheck::usable;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string parent_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string absolute(const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
    return std::string(cwd) + "/" + path;
}

std::string real_path(const std::string& path) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return absolute(path);
    return resolved;
}

class Search {
public:
    explicit Search(const EngineLocatorOptions& options) : options_(options) {}

    const char* env(const char* name) const {
        return options_.getenv ? options_.getenv(name) : std::getenv(name);
    }

    void note(const std::string& what) { location_.tried.push_back(what); }

    // The `dotnet` that runs an assembly; notes each place tried when none is found.
    std::optional<std::string> find_dotnet(std::vector<std::string>& tried) const {
        std::vector<std::string> candidates;
        auto add_from = [&](const char* variable, const char* suffix) {
            const char* value = env(variable);
            if (value == nullptr || *value == '\0') {
                tried.push_back(std::string("$") + variable + " (not set)");
                return;
            }
            candidates.push_back(std::string(value) + suffix);
        };
        add_from("DOTNET_HOST_PATH", "");
        add_from("DOTNET_ROOT", "/dotnet");
        if (const char* path = env("PATH"); path != nullptr && *path != '\0') {
            std::string entries(path);
            std::size_t begin = 0;
            while (begin <= entries.size()) {
                const std::size_t end = std::min(entries.find(':', begin), entries.size());
                const std::string directory = entries.substr(begin, end - begin);
                if (!directory.empty() && directory[0] == '/') candidates.push_back(directory + "/dotnet");
                begin = end + 1;
            }
        } else {
            tried.push_back("$PATH (not set)");
        }
        if (options_.dotnet_locations.empty()) {
            candidates.push_back("/usr/share/dotnet/dotnet");
            candidates.push_back("/usr/lib/dotnet/dotnet");
        } else {
            candidates.insert(candidates.end(), options_.dotnet_locations.begin(), options_.dotnet_locations.end());
        }
        for (const std::string& candidate : candidates) {
            const FileCheck check = check_file(candidate, true);
            if (check == FileCheck::usable) return real_path(candidate);
            tried.push_back(candidate + " (" + describe(check) + ")");
        }
        return std::nullopt;
    }

    // An engine file: the apphost (executable) or an assembly (.dll, with dotnet).
    // Returns true when it is usable and sets the command.
    bool try_file(const std::string& path, const std::string& label) {
        const bool assembly = ends_with(path, ".dll");
        const FileCheck check = check_file(path, !assembly);
        if (check != FileCheck::usable) {
            note(label + path + ": " + describe(check));
            return false;
        }
        const std::string resolved = real_path(path);
        if (!assembly) {
            note(label + path + ": found");
            location_.command = EngineCommand{resolved, {}};
            return true;
        }
        std::vector<std::string> dotnet_tried;
        const auto dotnet = find_dotnet(dotnet_tried);
        if (!dotnet) {
            std::string text = label + path + ": found, but no `dotnet` to run it (tried ";
            for (std::size_t i = 0; i < dotnet_tried.size(); ++i) text += (i ? ", " : "") + dotnet_tried[i];
            note(text + ")");
            return false;
        }
        note(label + path + ": found, run with " + *dotnet);
        location_.command = EngineCommand{*dotnet, {resolved}};
        return true;
    }

    bool try_module(const std::string& module_path) {
        const std::string directory = parent_of(absolute(module_path));
        // <bundle>/Contents/<arch>-linux/<name>.so
        const std::string contents = parent_of(directory);
        if (name_of(contents) == "Contents") {
            const std::string engine_dir = contents + "/Resources/engine/";
            if (try_file(engine_dir + "sostenuto", "") || try_file(engine_dir + "sostenuto.dll", "")) return true;
        }
        const std::string beside = directory + "/engine/";
        return try_file(beside + "sostenuto", "") || try_file(beside + "sostenuto.dll", "");
    }

    EngineLocation run(const std::string& module_path) {
        const char* chosen = env(engine_environment_variable);
        if (chosen != nullptr && *chosen != '\0') {
            const std::string label = std::string("$") + engine_environment_variable + "=";
            if (try_file(chosen, label)) return std::move(location_);
            location_.error = std::string("the Sostenuto engine set in $") + engine_environment_variable +
                              " is unusable: " + location_.tried.back() +
                              " (unset it to use the engine in the plug-in's bundle)";
            return std::move(location_);
        }
        note(std::string("$") + engine_environment_variable + ": not set");

        if (module_path.empty()) {
            note("the plug-in's own path: unknown");
        } else {
            if (try_module(module_path)) return std::move(location_);
            const std::string resolved = real_path(module_path);
            if (resolved != absolute(module_path) && try_module(resolved)) return std::move(location_);
        }
        for (const std::string& place : options_.more_places) {
            if (ends_with(place, ".vst3")) {
                const std::string engine_dir = place + "/Contents/Resources/engine/";
                if (try_file(engine_dir + "sostenuto", "") || try_file(engine_dir + "sostenuto.dll", ""))
                    return std::move(location_);
            } else if (try_file(place, "")) {
                return std::move(location_);
            }
        }

        location_.error = "no Sostenuto engine found; tried: ";
        for (std::size_t i = 0; i < location_.tried.size(); ++i) {
            location_.error += (i ? "; " : "") + location_.tried[i];
        }
        location_.error += std::string(". Set $") + engine_environment_variable +
                           " to the engine (`sostenuto` or `sostenuto.dll`).";
        return std::move(location_);
    }

private:
    const EngineLocatorOptions& options_;
    EngineLocation location_;
};

}  // namespace

std::string EngineCommand::describe() const {
    std::string text = program;
    for (const std::string& argument : arguments) text += " " + argument;
    return text;
}

EngineLocation locate_engine(const std::string& module_path, const EngineLocatorOptions& options) {
    return Search(options).run(module_path);
}

std::string module_path_of(const void* address) {
    Dl_info info{};
    if (::dladdr(address, &info) == 0 || info.dli_fname == nullptr || info.dli_fname[0] == '\0') return {};
    return absolute(info.dli_fname);
}

}  // namespace sostenuto::bridge
