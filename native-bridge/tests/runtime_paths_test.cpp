#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "sostenuto/bridge/runtime_paths.h"

namespace sostenuto::bridge {
namespace {

// Sets an environment variable for one scope.
class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        if (value) ::setenv(name, value, 1); else ::unsetenv(name);
    }
    ~ScopedEnvironment() {
        if (had_) ::setenv(name_, old_.c_str(), 1); else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

TEST(RuntimePaths, FallsBackToAPrivateDirectoryInTmp) {
    ScopedEnvironment no_xdg("XDG_RUNTIME_DIR", nullptr);
    std::string error;
    const auto directory = runtime_directory(error);
    ASSERT_TRUE(directory) << error;
    EXPECT_EQ(*directory, "/tmp/sostenuto-" + std::to_string(::geteuid()));
    struct stat info {};
    ASSERT_EQ(::stat(directory->c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0700u);
    EXPECT_EQ(*engine_socket_path(error), *directory + "/sostenuto-engine.sock");
}

TEST(RuntimePaths, UsesXdgRuntimeDirAndRefusesAnOpenOne) {
    char private_template[] = "/tmp/sostenuto-xdg-XXXXXX";
    ASSERT_NE(::mkdtemp(private_template), nullptr);  // mkdtemp makes it 0700
    {
        ScopedEnvironment xdg("XDG_RUNTIME_DIR", private_template);
        std::string error;
        EXPECT_EQ(engine_socket_path(error).value_or(error), std::string(private_template) + "/sostenuto-engine.sock");
        ASSERT_EQ(::chmod(private_template, 0755), 0);
        EXPECT_FALSE(runtime_directory(error));
        EXPECT_NE(error.find("accessible to other users"), std::string::npos) << error;
    }
    ::rmdir(private_template);
}

TEST(RuntimePaths, AudioRingNamesAreShmNamesWithUidAndInstance) {
    const std::string name = audio_ring_name(0xABCDEFu);
    EXPECT_EQ(name, "/sostenuto-" + std::to_string(::geteuid()) + "-0000000000abcdef");
}

}  // namespace
}  // namespace sostenuto::bridge
