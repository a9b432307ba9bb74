// Where the engine program is: the command a launcher runs to start
// `sostenuto serve`.
//
// Off the audio thread (it looks at files and the environment and allocates).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sostenuto::bridge {

// Set to the engine to use: an executable (the `sostenuto` apphost, or any
// program that takes `serve --socket PATH ...`), or a `sostenuto.dll` that is
// run with `dotnet`.
inline constexpr const char* engine_environment_variable = "SOSTENUTO_ENGINE";

// How to start the engine: `program` with `arguments` in front of the
// engine's own (`serve --socket PATH --idle-exit 30`). The apphost is
// {"/…/engine/sostenuto", {}}; the framework-dependent assembly is
// {"/usr/share/dotnet/dotnet", {"/…/engine/sostenuto.dll"}}. Paths are
// absolute, so the engine can be started from any working directory.
struct EngineCommand {
    std::string program;
    std::vector<std::string> arguments;

    // "program arg …", for logs and messages.
    std::string describe() const;
};

struct EngineLocation {
    std::optional<EngineCommand> command;
    // Every place looked at, in order, each with what was found there
    // ("/x/sostenuto: not found", "…: not executable", "…: found").
    std::vector<std::string> tried;
    // Without a command: one message for the user and the log that names
    // every place tried.
    std::string error;
};

struct EngineLocatorOptions {
    // Reads an environment variable (nullptr when unset); std::getenv when
    // empty. Tests substitute their own environment.
    std::function<const char*(const char*)> getenv;
    // The fixed places `dotnet` is looked for after the environment; empty:
    // /usr/share/dotnet/dotnet, /usr/lib/dotnet/dotnet.
    std::vector<std::string> dotnet_locations;
    // More places to look, in order, after the module's own (step 4 below):
    // a path ending in `.vst3` is a VST3 bundle, anything else an engine file.
    std::vector<std::string> more_places;
};

// Finds the engine, in this order:
//
//  1. $SOSTENUTO_ENGINE when set and not empty. A name ending in `.dll` is an
//     assembly run with `dotnet`; anything else must be an executable file.
//     When it is set but unusable, that is the answer (an error naming it):
//     an explicit choice is never silently replaced by another engine.
//  2. The VST3 bundle around `module_path` (the plug-in passes its own .so,
//     see module_path_of): when the module lies in
//     `<bundle>/Contents/<arch>-linux/`, then
//     `<bundle>/Contents/Resources/engine/sostenuto` (the apphost), then
//     `<bundle>/Contents/Resources/engine/sostenuto.dll`.
//  3. Beside `module_path` (a standalone's layout):
//     `<module dir>/engine/sostenuto`, then `<module dir>/engine/sostenuto.dll`.
//  4. `options.more_places`, in order: for a bundle its
//     `Contents/Resources/engine/sostenuto`, then `.../sostenuto.dll`; for
//     anything else the file itself (sostenuto-jack: the built bundle, the
//     installed bundle, ./sostenuto).
//
// Steps 2 and 3 are tried for `module_path` as given and, when it differs,
// for its real path (a bundle linked into ~/.vst3 from elsewhere).
//
// `dotnet` (for a .dll) is $DOTNET_HOST_PATH, else $DOTNET_ROOT/dotnet, else
// the first `dotnet` on $PATH, else /usr/share/dotnet/dotnet,
// /usr/lib/dotnet/dotnet.
EngineLocation locate_engine(const std::string& module_path, const EngineLocatorOptions& options = {});

// The file of the shared object (or executable) that contains `address`, via
// dladdr, made absolute; empty if unknown. The plug-in passes the address of
// one of its own functions to find its .so.
std::string module_path_of(const void* address);

}  // namespace sostenuto::bridge
