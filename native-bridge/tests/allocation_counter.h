// Counts heap allocations made by the current thread while a scope is active.
//
// allocation_counter.cpp replaces malloc and friends and the global operator
// new for the whole test executable (forwarding to glibc's __libc_* functions),
// so an allocation anywhere below the code under test is seen, including
// inside libstdc++. Only the thread that opened the scope is counted: the pipe
// client's I/O thread may allocate, the audio thread may not. A plug-in loaded
// with dlopen is counted too when the executable exports the replacements
// (CMake ENABLE_EXPORTS): the dynamic linker binds the plug-in's calls to them.
// The one allocation counter of the native tests (bridge, plug-in, standalone).
#pragma once

#include <cstddef>

namespace sostenuto::bridge::testing {

class AllocationCountingScope {
public:
    AllocationCountingScope();
    ~AllocationCountingScope();
    AllocationCountingScope(const AllocationCountingScope&) = delete;
    AllocationCountingScope& operator=(const AllocationCountingScope&) = delete;

    std::size_t allocations() const;
};

}  // namespace sostenuto::bridge::testing
