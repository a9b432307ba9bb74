# Two set-up commands: `make demo` and `make test`. Both install what they need.
.PHONY: setup build native bundle gpu install demo test bench fixture clean fuzz

setup:
	@bash scripts/setup.sh

build: setup
	dotnet build Plugin.sln -c Release --no-restore -v quiet -nologo

# The native side (native-bridge/, later plugin/): CMake, GoogleTest through ctest.
native: setup
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
	cmake --build build -j2

# The VST3 bundle with everything a user needs inside besides the .NET runtime: the shim, the
# engine (framework-dependent; an ahead-of-time build answered live keys later, issue #19's note),
# ONNX Runtime and the default model. Publishing for linux-x64 puts the NuGet package's native ONNX
# Runtime (runtimes/linux-x64/native) next to the engine, and only that platform's.
BUNDLE := build/Sostenuto.vst3
bundle: build native
	rm -rf $(BUNDLE)/Contents/Resources/engine $(BUNDLE)/Contents/Resources/models
	dotnet publish engine/Sostenuto.Cli -c Release -r linux-x64 --self-contained false --no-restore -v quiet -nologo -o $(BUNDLE)/Contents/Resources/engine
	rm -f $(BUNDLE)/Contents/Resources/engine/*.dbg $(BUNDLE)/Contents/Resources/engine/*.pdb
	mkdir -p $(BUNDLE)/Contents/Resources/models
	cp -rL models/default $(BUNDLE)/Contents/Resources/models/default

# Optional: the CUDA build of ONNX Runtime in the bundle in place of the CPU one (docs/gpu.md).
# Needs an NVIDIA driver, CUDA 13 and cuDNN 9 at run time; without them the engine says so in
# one line and runs on the CPU. `make bundle` puts the CPU build back.
GPU_ORT := build/onnxruntime-gpu
gpu: bundle
	rm -rf $(GPU_ORT)
	dotnet publish engine/OnnxRuntimeGpu -c Release -v quiet -nologo -o $(GPU_ORT)
	cp $(GPU_ORT)/*.so $(BUNDLE)/Contents/Resources/engine/

# Installs the bundle where Linux hosts look for VST3 plug-ins.
install: bundle
	mkdir -p $(HOME)/.vst3
	rm -rf $(HOME)/.vst3/Sostenuto.vst3
	cp -r $(BUNDLE) $(HOME)/.vst3/

# The main job: examples/demo.mid bounced through the real plug-in (headless VST3 host, offline
# mode, the plug-in starting its bundled engine) to out/demo.wav.
demo: bundle
	bash scripts/demo.sh

# Every test: the engine's xunit suite, the native GoogleTest suites (bridge, plug-in, JACK
# standalone), then headless Ardour bouncing through the installed bundle.
test: bundle
	dotnet test Plugin.sln -c Release --no-build -v quiet -nologo --logger "console;verbosity=minimal"
	ctest --test-dir build --output-on-failure
	bash tests/ardour/ci.sh

# Seeded mutation fuzzers for FUZZ_MINUTES each (protocol decoder in C# and C++, Standard MIDI File reader,
# model manifest parser, plug-in state), from FUZZ_SEED; prints the inputs each ran, and its slowest input (one that
# takes 1 s is a hang and fails the target). `make test` runs a fixed
# count of each (seconds). A crash fails the target and names a file holding the input.
FUZZ_MINUTES ?= 10
FUZZ_SEED ?= 19
FUZZ_ENV = SOSTENUTO_FUZZ_SECONDS=$$(awk 'BEGIN { print $(FUZZ_MINUTES) * 60 }') SOSTENUTO_FUZZ_SEED=$(FUZZ_SEED) SOSTENUTO_FUZZ_REPORT=$(CURDIR)/build/fuzz-report.txt
fuzz: build native
	@mkdir -p build && rm -f build/fuzz-report.txt
	$(FUZZ_ENV) dotnet test tests/Sostenuto.Engine.Tests -c Release --no-build -v quiet -nologo --filter Category=Fuzz
	$(FUZZ_ENV) build/native-bridge/tests/sostenuto_bridge_tests --gtest_filter='ProtocolFuzz*' --gtest_brief=1
	$(FUZZ_ENV) build/plugin/tests/sostenuto_vst3_state_fuzz_tests --gtest_brief=1
	@cat build/fuzz-report.txt

# make bench FILTER='*LmStep*' JOB=short: BenchmarkDotNet, each benchmark beside its baseline.
FILTER ?= *
JOB ?= default
bench: build
	dotnet run -c Release --no-build --project benchmarks/Sostenuto.Benchmarks -- --filter '$(FILTER)' --job $(JOB)

# The bridge's per-process()-call overhead against no-op baselines (not part of `make test`):
# make bench-bridge BRIDGE_ARGS='--calls 15000 --block 128 --rate 48000'
.PHONY: bench-bridge
bench-bridge: build
	bash benchmarks/bridge-overhead/run.sh $(BRIDGE_ARGS)

# Key-to-sound time through the real plug-in (paced realtime test host) and the JACK standalone
# at 48 kHz with 64, 128 and 256-frame buffers (benchmarks/latency/README.md; not part of `make test`):
# make bench-latency LATENCY_ARGS='--latency-mode studio --keys 24'
.PHONY: bench-latency soak
bench-latency: build native
	bash benchmarks/latency/latency.sh $(LATENCY_ARGS)

# What an instance costs, engine and host CPU, never played / silent / holding / playing / bouncing,
# live and studio, 1, 4 and 8 instances, beside a no-op host and ./sostenuto render, with the engine's
# per-frame profile (benchmarks/cost/README.md; not part of `make test`): make bench-cost COST_ARGS='--instances 1'
.PHONY: bench-cost
bench-cost: bundle
	python3 benchmarks/cost/cost.py $(COST_ARGS)

# Underruns while 4 plug-in instances play at 128 frames on one engine: make soak SOAK_MINUTES=10
SOAK_MINUTES ?= 10
soak: build native
	bash benchmarks/latency/soak.sh --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# Re-export the untrained fixture model (needs Debian's python3-torch and python3-onnx).
fixture:
	SOSTENUTO_TRAINING=1 bash scripts/setup.sh
	/usr/bin/python3 training/export_fixture.py --out models/fixture

clean:
	rm -rf out build */*/bin */*/obj
