// Seeded mutation fuzzing for the native tests (issue 19): the C++ twin of
// tests/Sostenuto.Engine.Tests/Fuzz/Mutator.cs. A fixed count of inputs runs
// in `make test`; with SOSTENUTO_FUZZ_SECONDS set (`make fuzz FUZZ_MINUTES=N`)
// as many as fit, from SOSTENUTO_FUZZ_SEED, and a line of counts is appended
// to $SOSTENUTO_FUZZ_REPORT.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace sostenuto::testing {

inline std::uint64_t fuzz_seed() {
    const char* s = std::getenv("SOSTENUTO_FUZZ_SEED");
    return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : 19;
}

class Mutator {
public:
    Mutator(std::uint64_t seed, std::vector<std::vector<std::uint8_t>> corpus) : rng_(seed), corpus_(std::move(corpus)) {}

    std::vector<std::uint8_t> next() {
        std::vector<std::uint8_t> data = corpus_[below(corpus_.size())];
        const std::size_t edits = 1 + below(4);
        for (std::size_t e = 0; e < edits; ++e) mutate(data);
        return data;
    }

    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }

private:
    void mutate(std::vector<std::uint8_t>& data) {
        static constexpr std::uint8_t interesting_bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, '/', '\n'};
        static constexpr std::uint64_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
                                                        0x7fffffff, 0x80000000, 0xffffffff, 1ull << 44, 1ull << 63, ~0ull};
        const std::size_t at = below(data.size());
        switch (below(9)) {
            case 0: if (!data.empty()) data[at] ^= static_cast<std::uint8_t>(1u << below(8)); break;
            case 1: if (!data.empty()) data[at] = interesting_bytes[below(sizeof interesting_bytes)]; break;
            case 2: if (!data.empty()) data[at] = static_cast<std::uint8_t>(rng_()); break;
            case 3: {
                const std::size_t width = std::size_t{1} << (1 + below(3));
                if (data.size() < width) break;
                const std::size_t p = below(data.size() - width + 1);
                const std::uint64_t v = interesting[below(sizeof interesting / sizeof interesting[0])] + below(3) - 1;
                for (std::size_t i = 0; i < width; ++i) data[p + i] = static_cast<std::uint8_t>(v >> (8 * i));
                break;
            }
            case 4: {
                const std::size_t n = 1 + below(16);
                for (std::size_t i = 0; i < n; ++i) data.insert(data.begin() + static_cast<long>(std::min(at, data.size())), static_cast<std::uint8_t>(rng_()));
                break;
            }
            case 5: if (!data.empty()) data.erase(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(std::min(data.size(), at + 1 + below(16)))); break;
            case 6: {
                if (data.empty()) break;
                const std::size_t n = std::min(1 + below(32), data.size() - at);
                const std::vector<std::uint8_t> run(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(at + n));
                data.insert(data.begin() + static_cast<long>(below(data.size() + 1)), run.begin(), run.end());
                break;
            }
            case 7: if (!data.empty()) data.resize(at); break;
            default: {
                const auto& other = corpus_[below(corpus_.size())];
                if (other.empty()) break;
                const std::size_t from = below(other.size());
                data.resize(std::min(at, data.size()));
                data.insert(data.end(), other.begin() + static_cast<long>(from), other.end());
                break;
            }
        }
    }

    std::mt19937_64 rng_;
    std::vector<std::vector<std::uint8_t>> corpus_;
};

// An input that takes this long in a timed run (`make fuzz`) is a hang.
inline constexpr double fuzz_hang_seconds = 1.0;

// Runs `one(i)` for i = 0, 1, ... within the budget; returns how many ran.
inline std::uint64_t run_fuzz(const char* target, std::uint64_t default_count, const std::function<void(std::uint64_t)>& one) {
    const char* seconds_text = std::getenv("SOSTENUTO_FUZZ_SECONDS");
    const double seconds = seconds_text != nullptr ? std::atof(seconds_text) : 0;
    std::uint64_t i = 0;
    const auto start = std::chrono::steady_clock::now();
    if (seconds > 0) {
        // Each input is timed: one that takes fuzz_hang_seconds is a hang (the targets read a few
        // kilobytes, in microseconds), reported with its index; the caller fails on hangs.
        double slowest = 0;
        std::uint64_t slowest_at = 0, hangs = 0;
        auto now = start;
        while (std::chrono::duration<double>(now - start).count() < seconds) {
            one(i);
            const auto after = std::chrono::steady_clock::now();
            const double took = std::chrono::duration<double>(after - now).count();
            if (took > slowest) slowest = took, slowest_at = i;
            if (took >= fuzz_hang_seconds) ++hangs;
            now = after;
            ++i;
        }
        if (const char* report = std::getenv("SOSTENUTO_FUZZ_REPORT"); report != nullptr && *report != '\0') {
            if (FILE* f = std::fopen(report, "a")) {
                std::fprintf(f, "C++ %s: %llu inputs in %.0f s, seed %llu, 0 crashes, %llu hangs (slowest input #%llu: %.3f ms)\n",
                             target, static_cast<unsigned long long>(i), seconds, static_cast<unsigned long long>(fuzz_seed()),
                             static_cast<unsigned long long>(hangs), static_cast<unsigned long long>(slowest_at), slowest * 1000);
                std::fclose(f);
            }
        }
        if (hangs > 0) throw std::runtime_error(std::string(target) + ": " + std::to_string(hangs) + " inputs took " +
                                                std::to_string(fuzz_hang_seconds) + " s or more (slowest #" +
                                                std::to_string(slowest_at) + ")");
    } else {
        while (i < default_count) one(i++);
    }
    return i;
}

inline std::string hex(const std::vector<std::uint8_t>& data, std::size_t max = 96) {
    std::string s;
    char b[4];
    for (std::size_t i = 0; i < data.size() && i < max; ++i) {
        std::snprintf(b, sizeof b, "%02x", data[i]);
        s += b;
    }
    return s;
}

}  // namespace sostenuto::testing
