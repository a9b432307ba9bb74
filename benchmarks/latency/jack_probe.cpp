// sostenuto-latency-jack-probe: plays an event list (keys.py's) into a JACK
// MIDI input at known JACK frame times and records two audio outputs, like a
// keyboard and an audio interface around sostenuto-jack. The recording starts
// at the frame of event time 0, so its sample i is JACK frame origin + i and
// onsets.py measures it with --offset 0.
//
//   sostenuto-latency-jack-probe --server NAME --midi-in PORT --audio-out LEFT,RIGHT
//       --events KEYS.txt -o OUT.wav [--lead SECONDS] [--tail SECONDS]
//
// Exit 5: the recording is written, but an event went out after its frame
// (the JACK graph skipped cycles on a busy machine); latency.sh plays it again.
//
// It uses the JACK tests' two clients (standalone/tests/jack_test_support.h):
// one plays, one records, so the graph runs source -> instrument -> recorder in
// one cycle, as a keyboard -> instrument -> sound card chain does.
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "jack_test_support.h"
#include "midi_file.h"
#include "wav_file.h"

using namespace sostenuto::standalone::testing;

namespace {

struct Args {
    std::string server, midi_in, left, right, events, output;
    double lead = 0.5;  // from the recorder's first cycle to event time 0
    double tail = 1.0;  // recorded after the last event
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
        const std::string v = argv[++i];
        if (k == "--server") a.server = v;
        else if (k == "--midi-in") a.midi_in = v;
        else if (k == "--audio-out") {
            const auto comma = v.find(',');
            if (comma == std::string::npos) throw std::invalid_argument("--audio-out LEFT,RIGHT");
            a.left = v.substr(0, comma);
            a.right = v.substr(comma + 1);
        } else if (k == "--events") a.events = v;
        else if (k == "-o") a.output = v;
        else if (k == "--lead") a.lead = std::stod(v);
        else if (k == "--tail") a.tail = std::stod(v);
        else throw std::invalid_argument("unknown option " + k);
    }
    if (a.server.empty() || a.midi_in.empty() || a.left.empty() || a.events.empty() || a.output.empty())
        throw std::invalid_argument("--server, --midi-in, --audio-out, --events and -o are required");
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Args a = parse(argc, argv);
        const auto events = sostenuto::host::read_midi_input(a.events);
        const double last = events.empty() ? 0.0 : events.back().seconds;
        auto recorder = std::make_unique<Recorder>(static_cast<std::size_t>(std::ceil(a.lead + last + a.tail + 2)));
        auto source = std::make_unique<MidiSource>();
        if (!source->open(a.server, "latency-probe-midi") || !recorder->open(a.server, "latency-probe-rec"))
            throw std::runtime_error("cannot open JACK clients on server '" + a.server + "'");
        const double rate = jack_get_sample_rate(recorder->client());
        if (jack_connect(source->client(), source->port_name().c_str(), a.midi_in.c_str()) != 0 ||
            jack_connect(recorder->client(), a.left.c_str(), recorder->port_name(0).c_str()) != 0 ||
            jack_connect(recorder->client(), a.right.c_str(), recorder->port_name(1).c_str()) != 0)
            throw std::runtime_error("cannot connect to " + a.midi_in + " / " + a.left + "," + a.right);
        if (!wait_until([&] { return recorder->started(); }, 10s)) throw std::runtime_error("the recorder never ran");

        const jack_nframes_t origin = recorder->first_frame() + static_cast<jack_nframes_t>(std::lround(a.lead * rate));
        for (const auto& e : events) {
            const jack_nframes_t frame = origin + static_cast<jack_nframes_t>(std::llround(e.seconds * rate));
            const std::uint8_t kind = e.status & 0xF0;
            if (kind == 0xC0 || kind == 0xD0) source->play(frame, {e.status, e.data1});
            else source->play(frame, {e.status, e.data1, e.data2});
        }
        const jack_nframes_t end = origin + static_cast<jack_nframes_t>(std::lround((last + a.tail) * rate));
        const auto wall = std::chrono::milliseconds(static_cast<long>(1000 * (a.lead + last + a.tail) + 30000));
        if (!recorder->wait_for_frame(end, wall)) throw std::runtime_error("the recording did not reach the end in time");
        const std::size_t from = recorder->index(origin), length = end - origin;
        std::vector<std::vector<float>> audio = {
            std::vector<float>(recorder->left().begin() + static_cast<long>(from), recorder->left().begin() + static_cast<long>(from + length)),
            std::vector<float>(recorder->right().begin() + static_cast<long>(from), recorder->right().begin() + static_cast<long>(from + length))};
        const std::size_t late = source->late();
        const std::uint64_t gaps = recorder->cycle_gaps();
        source->close();
        recorder->close();
        sostenuto::host::write_float_wav(a.output, static_cast<std::uint32_t>(rate), audio);
        std::printf("probe: %zu events from JACK frame %u, %zu late; %zu frames recorded, %llu cycle gaps\n", events.size(),
                    origin, late, length, static_cast<unsigned long long>(gaps));
        return late == 0 ? 0 : 5;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sostenuto-latency-jack-probe: %s\n", e.what());
        return 2;
    }
}
