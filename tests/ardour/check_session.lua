-- Loads the prepared session the way ardour7-export will and checks what Ardour made of it:
-- the instrument is there (not a stub), the track's playlist holds exactly the injected MIDI
-- region at 0 with the expected number of notes, and the session range is the one asked for.
--
--   ardour7-lua check_session.lua DIR NAME END_SAMPLES NOTES
--
-- Prints "check: ..." lines (latency, region, range); exits non-zero with "bounce: ..." on failure.

local function fail(msg)
	print("bounce: " .. msg)
	io.stdout:flush()
	os.exit(3)
end

local dir, name, end_samples, notes = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
if not notes then fail("usage: check_session.lua DIR NAME END_SAMPLES NOTES") end

if not load_session(dir, name) then fail("Ardour could not load the session " .. dir) end

local track = nil
for r in Session:get_routes():iter() do
	local t = r:to_track()
	if not t:isnil() and not t:to_midi_track():isnil() then track = t end
end
if not track then fail("no MIDI track in the session") end

local inst = track:the_instrument()
if inst:isnil() then fail("the MIDI track has no instrument after loading (plug-in missing?)") end
print(string.format("check: instrument %s, reported latency %d samples",
	inst:name(), inst:signal_latency()))

local master = Session:master_out()
for i = 0, 1 do
	local src, dst = track:output():audio(i), master:input():audio(i)
	if not src:connected_to(dst:name()) then fail(src:name() .. " is not connected to " .. dst:name()) end
end
print("check: track outputs 1, 2 -> master inputs 1, 2")

local regions = {}
for reg in track:playlist():region_list():iter() do regions[#regions + 1] = reg end
if #regions ~= 1 then fail(string.format("the track's playlist has %d regions, expected 1", #regions)) end
local r = regions[1]
local mr = r:to_midiregion()
if mr:isnil() then fail("the region is not a MIDI region") end
local n = ARDOUR.LuaAPI.note_list(mr:model()):size()
print(string.format("check: region '%s' at sample %d, length %d samples, %d notes",
	r:name(), r:position():samples(), r:length():samples(), n))
if r:position():samples() ~= 0 then fail("the region does not start at 0") end
if n ~= notes then fail(string.format("the region has %d notes, the MIDI file %d", n, notes)) end

local s0, s1 = Session:current_start_sample(), Session:current_end_sample()
print(string.format("check: session range %d .. %d samples at %d Hz", s0, s1, Session:nominal_sample_rate()))
if s0 ~= 0 or s1 ~= end_samples then
	fail(string.format("session range is %d..%d, expected 0..%d", s0, s1, end_samples))
end
