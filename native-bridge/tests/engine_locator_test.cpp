// engine_locator: the search order, dotnet for an assembly, and an error
// message that names every place tried.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine_test_support.h"
#include "sostenuto/bridge/engine_locator.h"

namespace sostenuto::bridge {
namespace {

using testing::make_directories;
using testing::TemporaryDirectory;
using testing::write_file;

// An environment of our own, so the test never depends on the real one.
struct FakeEnvironment {
    std::map<std::string, std::string> values;
    EngineLocatorOptions options() const {
        EngineLocatorOptions o;
        o.getenv = [this](const char* name) -> const char* {
            const auto found = values.find(name);
            return found == values.end() ? nullptr : found->second.c_str();
        };
        return o;
    }
};

// <root>/Sostenuto.vst3/Contents/x86_64-linux/Sostenuto.so and its engine folder.
struct Bundle {
    explicit Bundle(const TemporaryDirectory& root)
        : contents(root / "Sostenuto.vst3/Contents"),
          module(contents + "/x86_64-linux/Sostenuto.so"),
          engine_dir(contents + "/Resources/engine") {
        make_directories(contents + "/x86_64-linux");
        make_directories(engine_dir);
        write_file(module, "not really a shared object", 0755);
    }
    std::string contents, module, engine_dir;
};

TEST(EngineLocator, FindsTheApphostInTheBundle) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto", "#!/bin/sh\n", 0755);
    write_file(bundle.engine_dir + "/sostenuto.dll", "", 0644);
    FakeEnvironment env;
    const EngineLocation found = locate_engine(bundle.module, env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, bundle.engine_dir + "/sostenuto");
    EXPECT_TRUE(found.command->arguments.empty());
    ASSERT_EQ(found.tried.size(), 2u);
    EXPECT_EQ(found.tried[0], "$SOSTENUTO_ENGINE: not set");
    EXPECT_EQ(found.tried[1], bundle.engine_dir + "/sostenuto: found");
}

TEST(EngineLocator, RunsTheAssemblyWithDotnetWhenThereIsNoApphost) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto.dll", "", 0644);
    make_directories(root / "bin");
    write_file(root / "bin/dotnet", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    env.values["PATH"] = "relative/ignored:" + (root / "nothing-here") + ":" + (root / "bin");
    const EngineLocation found = locate_engine(bundle.module, env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "bin/dotnet");
    ASSERT_EQ(found.command->arguments.size(), 1u);
    EXPECT_EQ(found.command->arguments[0], bundle.engine_dir + "/sostenuto.dll");
    EXPECT_EQ(found.command->describe(), (root / "bin/dotnet") + " " + bundle.engine_dir + "/sostenuto.dll");
}

TEST(EngineLocator, DotnetHostPathComesBeforePath) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto.dll", "", 0644);
    make_directories(root / "bin");
    make_directories(root / "host");
    write_file(root / "bin/dotnet", "#!/bin/sh\n", 0755);
    write_file(root / "host/dotnet", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    env.values["PATH"] = root / "bin";
    env.values["DOTNET_HOST_PATH"] = root / "host/dotnet";
    const EngineLocation found = locate_engine(bundle.module, env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "host/dotnet");
}

TEST(EngineLocator, EnvironmentVariableComesFirst) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto", "#!/bin/sh\n", 0755);
    write_file(root / "my-engine", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    env.values["SOSTENUTO_ENGINE"] = root / "my-engine";
    const EngineLocation found = locate_engine(bundle.module, env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "my-engine");
    ASSERT_EQ(found.tried.size(), 1u);
    EXPECT_EQ(found.tried[0], "$SOSTENUTO_ENGINE=" + (root / "my-engine") + ": found");
}

TEST(EngineLocator, EnvironmentVariableNamingADllUsesDotnet) {
    TemporaryDirectory root;
    write_file(root / "sostenuto.dll", "", 0644);
    write_file(root / "dotnet", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    env.values["SOSTENUTO_ENGINE"] = root / "sostenuto.dll";
    env.values["DOTNET_ROOT"] = root.path();
    const EngineLocation found = locate_engine("", env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "dotnet");
    ASSERT_EQ(found.command->arguments.size(), 1u);
    EXPECT_EQ(found.command->arguments[0], root / "sostenuto.dll");
}

TEST(EngineLocator, AnUnusableEnvironmentVariableIsAnErrorNotAFallback) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    env.values["SOSTENUTO_ENGINE"] = root / "missing-engine";
    const EngineLocation found = locate_engine(bundle.module, env.options());
    EXPECT_FALSE(found.command);
    EXPECT_NE(found.error.find("SOSTENUTO_ENGINE"), std::string::npos) << found.error;
    EXPECT_NE(found.error.find(root / "missing-engine"), std::string::npos) << found.error;
    EXPECT_NE(found.error.find("not found"), std::string::npos) << found.error;

    // Not executable is named as such.
    write_file(root / "plain-file", "", 0644);
    env.values["SOSTENUTO_ENGINE"] = root / "plain-file";
    const EngineLocation plain = locate_engine(bundle.module, env.options());
    EXPECT_FALSE(plain.command);
    EXPECT_NE(plain.error.find("not executable"), std::string::npos) << plain.error;
}

TEST(EngineLocator, NotFoundNamesEveryPlaceTriedInOrder) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto", "", 0644);  // present but not executable
    FakeEnvironment env;
    const EngineLocation found = locate_engine(bundle.module, env.options());
    ASSERT_FALSE(found.command);
    const std::string beside = bundle.contents + "/x86_64-linux/engine";
    const std::vector<std::string> expected = {
        "$SOSTENUTO_ENGINE: not set",
        bundle.engine_dir + "/sostenuto: not executable",
        bundle.engine_dir + "/sostenuto.dll: not found",
        beside + "/sostenuto: not found",
        beside + "/sostenuto.dll: not found",
    };
    EXPECT_EQ(found.tried, expected);
    EXPECT_EQ(found.error.rfind("no Sostenuto engine found; tried: ", 0), 0u) << found.error;
    std::size_t at = 0;
    for (const std::string& place : expected) {
        const auto next = found.error.find(place, at);
        ASSERT_NE(next, std::string::npos) << "'" << place << "' missing or out of order in: " << found.error;
        at = next + place.size();
    }
    EXPECT_NE(found.error.find("Set $SOSTENUTO_ENGINE"), std::string::npos) << found.error;
}

TEST(EngineLocator, AnAssemblyWithoutDotnetSaysSoAndWhereItLooked) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto.dll", "", 0644);
    FakeEnvironment env;
    env.values["PATH"] = root / "empty";
    env.values["DOTNET_ROOT"] = root / "no-dotnet-root";
    EngineLocatorOptions options = env.options();
    options.dotnet_locations = {root / "usr/share/dotnet/dotnet"};
    const EngineLocation found = locate_engine(bundle.module, options);
    ASSERT_FALSE(found.command);
    EXPECT_NE(found.error.find(bundle.engine_dir + "/sostenuto.dll: found, but no `dotnet` to run it"), std::string::npos)
        << found.error;
    EXPECT_NE(found.error.find("$DOTNET_HOST_PATH (not set)"), std::string::npos) << found.error;
    EXPECT_NE(found.error.find(root / "no-dotnet-root/dotnet (not found)"), std::string::npos) << found.error;
    EXPECT_NE(found.error.find(root / "empty/dotnet (not found)"), std::string::npos) << found.error;
    EXPECT_NE(found.error.find(root / "usr/share/dotnet/dotnet (not found)"), std::string::npos) << found.error;
}

TEST(EngineLocator, StandaloneLayoutBesideTheModule) {
    TemporaryDirectory root;
    make_directories(root / "app/engine");
    write_file(root / "app/sostenuto-jack", "", 0755);
    write_file(root / "app/engine/sostenuto", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    const EngineLocation found = locate_engine(root / "app/sostenuto-jack", env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "app/engine/sostenuto");
}

// sostenuto-jack in a build tree: nothing beside it; the built bundle, the
// installed bundle and ./sostenuto are its further places, in that order.
TEST(EngineLocator, MorePlacesAreBundlesOrEngineFilesTriedInOrder) {
    TemporaryDirectory root;
    make_directories(root / "build/standalone");
    write_file(root / "build/standalone/sostenuto-jack", "", 0755);
    make_directories(root / "home/.vst3/Sostenuto.vst3/Contents/Resources/engine");
    write_file(root / "home/.vst3/Sostenuto.vst3/Contents/Resources/engine/sostenuto", "#!/bin/sh\n", 0755);
    write_file(root / "sostenuto", "#!/bin/sh\n", 0755);
    FakeEnvironment env;
    EngineLocatorOptions options = env.options();
    options.more_places = {root / "build/Sostenuto.vst3", root / "home/.vst3/Sostenuto.vst3", root / "sostenuto"};
    EngineLocation found = locate_engine(root / "build/standalone/sostenuto-jack", options);
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "home/.vst3/Sostenuto.vst3/Contents/Resources/engine/sostenuto");
    ASSERT_EQ(found.tried.size(), 6u);
    EXPECT_EQ(found.tried[3], root / "build/Sostenuto.vst3/Contents/Resources/engine/sostenuto: not found");

    // The built bundle comes first once it has an engine.
    make_directories(root / "build/Sostenuto.vst3/Contents/Resources/engine");
    write_file(root / "build/Sostenuto.vst3/Contents/Resources/engine/sostenuto", "#!/bin/sh\n", 0755);
    found = locate_engine(root / "build/standalone/sostenuto-jack", options);
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "build/Sostenuto.vst3/Contents/Resources/engine/sostenuto");

    // Without any bundle: the program in the current directory's place, and an error naming every place otherwise.
    options.more_places = {root / "nowhere/Sostenuto.vst3", root / "sostenuto"};
    found = locate_engine(root / "build/standalone/sostenuto-jack", options);
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, root / "sostenuto");
    options.more_places = {root / "nowhere/Sostenuto.vst3", root / "nowhere/sostenuto"};
    found = locate_engine(root / "build/standalone/sostenuto-jack", options);
    EXPECT_FALSE(found.command);
    EXPECT_NE(found.error.find(root / "nowhere/Sostenuto.vst3/Contents/Resources/engine/sostenuto.dll: not found"),
              std::string::npos) << found.error;
    EXPECT_NE(found.error.find(root / "nowhere/sostenuto: not found"), std::string::npos) << found.error;
}

TEST(EngineLocator, BundleReachedThroughASymlinkedModuleIsFoundAtItsRealPlace) {
    TemporaryDirectory root;
    Bundle bundle(root);
    write_file(bundle.engine_dir + "/sostenuto", "#!/bin/sh\n", 0755);
    make_directories(root / "elsewhere");
    ASSERT_EQ(::symlink(bundle.module.c_str(), (root / "elsewhere/Sostenuto.so").c_str()), 0);
    FakeEnvironment env;
    const EngineLocation found = locate_engine(root / "elsewhere/Sostenuto.so", env.options());
    ASSERT_TRUE(found.command) << found.error;
    EXPECT_EQ(found.command->program, bundle.engine_dir + "/sostenuto");
}

TEST(EngineLocator, ModulePathOfFindsThisExecutable) {
    const std::string path = module_path_of(reinterpret_cast<const void*>(&module_path_of));
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(path[0], '/');
    char self[4096] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
    char resolved[4096] = {};
    ASSERT_NE(::realpath(path.c_str(), resolved), nullptr);
    EXPECT_STREQ(resolved, self);
}

}  // namespace
}  // namespace sostenuto::bridge
