-- Creates a fresh Ardour session with one MIDI track playing an instrument plug-in.
-- Run by bounce.sh through ardour7-lua (luasession: dummy backend, no GUI, no JACK):
--
--   ardour7-lua make_session.lua DIR NAME RATE TYPE PLUGIN TEMPOS
--
-- TYPE is lv2 or vst3; PLUGIN is the plug-in's name or unique id as Ardour's plug-in list has it
-- (for VST3 that list is the scanner's cache). TEMPOS is "tick:bpm[,tick:bpm...]" with ticks at
-- Ardour's 1920 per quarter note; every segment is constant (no ramps).
-- The MIDI region and the session range are added afterwards by session_xml.py (Ardour 7.3
-- has no headless MIDI import).
-- Exits non-zero with a line starting "bounce:" on any failure.

local function fail(msg)
	print("bounce: " .. msg)
	io.stdout:flush()
	os.exit(3)
end

local dir, name, rate, ptype, pname, tempos = arg[1], arg[2], tonumber(arg[3]), arg[4], arg[5], arg[6]
if not tempos then
	fail("usage: make_session.lua DIR NAME RATE lv2|vst3 PLUGIN TEMPOS")
end

local types = { lv2 = ARDOUR.PluginType.LV2, vst3 = ARDOUR.PluginType.VST3 }
local ptype_enum = types[ptype]
if not ptype_enum then fail("unknown plug-in type " .. ptype) end

local s = create_session(dir, name, rate)
if not s then fail("could not create session " .. dir .. " at " .. rate .. " Hz") end
if Session:nominal_sample_rate() ~= rate then
	fail(string.format("session runs at %d Hz, asked for %d", Session:nominal_sample_rate(), rate))
end

-- Tempo map: the first entry replaces the default 120 bpm at 0, later ones add constant segments.
local tm = Temporal.TempoMap.fetch_writable()
for entry in string.gmatch(tempos, "[^,]+") do
	local tick, bpm = string.match(entry, "^(%d+):([%d%.]+)$")
	if not tick then
		Temporal.TempoMap.abort_update()
		fail("bad tempo entry " .. entry)
	end
	tm:set_tempo(Temporal.Tempo(tonumber(bpm), tonumber(bpm), 4), Temporal.timepos_t.from_ticks(tonumber(tick)))
end
Temporal.TempoMap.update(tm)
tm = nil

local pi = ARDOUR.LuaAPI.new_plugin_info(pname, ptype_enum)
if pi:isnil() then
	fail(string.format("%s plug-in '%s' is not in Ardour's plug-in list%s", ptype, pname,
		ptype == "vst3" and " (VST3: is it installed and scanned into the cache, with the cache newer than the .so?)" or ""))
end

-- No auto-connection: Ardour's auto-connect thread reconfigures the new track's ports while
-- this thread is still adding the instrument, and the two race (intermittent abort:
-- "register_port: Port already exists: instrument/audio_out 1"). The track is connected to the
-- master explicitly below; its MIDI input stays unconnected (the region plays from disk).
ARDOUR.config():set_output_auto_connect(ARDOUR.AutoConnectOption.ManualConnect)
ARDOUR.config():set_input_auto_connect(ARDOUR.AutoConnectOption.ManualConnect)

-- Let Ardour settle first: calling new_midi_track right after create_session and the tempo
-- map update intermittently aborts Ardour 7.3 ("register_port: Port already exists:
-- instrument/audio_out 1", SIGABRT; about every other run on a busy 2-core machine, never in
-- 12 runs with this pause).
sleep(1)
local tl = Session:new_midi_track(
	ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1),
	ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2),
	true, pi, nil, nil, 1, "instrument",
	ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, false)
if tl:size() ~= 1 then fail("could not create the MIDI track") end

local track = tl:front()
local inst = track:the_instrument()
if inst:isnil() then fail("the track has no instrument: Ardour could not instantiate " .. pname) end
local pin = inst:to_insert()
print(string.format("instrument: %s (%s), %d in / %d out, latency %d samples",
	inst:name(), pin:plugin(0):unique_id(),
	pin:input_streams():n_midi(), pin:output_streams():n_audio(),
	inst:signal_latency()))

-- Track -> master, explicitly (auto-connection is off, see above).
local master = Session:master_out()
for i = 0, 1 do
	local src, dst = track:output():audio(i), master:input():audio(i)
	if src:isnil() or dst:isnil() then fail("track or master has fewer than 2 audio ports") end
	if not src:connected_to(dst:name()) and src:connect(dst:name()) ~= 0 then
		fail("could not connect " .. src:name() .. " to " .. dst:name())
	end
end

-- Unity gain from instrument to file: take the stereo panners out of the track and the master.
for r in Session:get_routes():iter() do
	local ps = r:panner_shell()
	if not ps:isnil() then ps:set_bypassed(true) end
end

Session:save_state("", false, false, false, false, false)
print("saved " .. dir .. "/" .. name .. ".ardour")
