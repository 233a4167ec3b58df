// The live view: the listener's events over server-sent events, drawn.
"use strict";
(function () {
  const COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
                   "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4"];
  const HISTORY = 300;  // posterior columns kept (one per decision)
  const view = {
    session: null, decision: null, labels: [], posteriors: [], counts: {},
    tune: null, renderMs: [], visual: null, notesLit: 0, playing: [],
  };
  window.listenerView = view;
  const $ = (id) => document.getElementById(id);

  function count(type) { view.counts[type] = (view.counts[type] || 0) + 1; }

  function showDecision(event) {
    view.decision = event.genre;
    $("genre").textContent = event.genre;
    $("confidence").textContent = `${Math.round(100 * event.confidence)}%` +
      (event.quiet ? " (quiet: held)" : "");
    const labels = Object.keys(event.posterior);
    if (labels.join() !== view.labels.join()) {
      view.labels = labels;
      $("legend").innerHTML = labels.map((g, i) =>
        `<li style="--c:${COLOURS[i % COLOURS.length]}">${g}</li>`).join("");
    }
    view.posteriors.push(labels.map((g) => event.posterior[g]));
    if (view.posteriors.length > HISTORY) view.posteriors.shift();
    drawPosteriors();
  }

  function drawPosteriors() {
    const c = $("posteriors"), g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    const n = view.posteriors.length;
    if (n === 0) return;
    const dx = c.width / Math.max(n - 1, 1);
    view.labels.forEach((_, k) => {
      g.strokeStyle = COLOURS[k % COLOURS.length];
      g.lineWidth = 2;
      g.beginPath();
      view.posteriors.forEach((p, i) => {
        const y = c.height * (1 - p[k]);
        if (i === 0) g.moveTo(0, y); else g.lineTo(i * dx, y);
      });
      g.stroke();
    });
  }

  function showMeter(m) {
    const level = $("level"), g = level.getContext("2d");
    const h = level.height * Math.max(0, Math.min(1, (m.rms_db + 60) / 60));
    g.clearRect(0, 0, level.width, level.height);
    g.fillStyle = m.rms_db > -3 ? "#e33" : "#3c3";
    g.fillRect(0, level.height - h, level.width, h);
    const s = $("spectrogram"), sg = s.getContext("2d");
    sg.drawImage(s, -2, 0);  // scroll left by two pixels, then the new column
    const bands = m.bands, bh = s.height / bands.length;
    bands.forEach((db, i) => {
      const v = Math.max(0, Math.min(1, (db + 90) / 80));  // -90 to -10 dB
      sg.fillStyle = `hsl(${240 - 240 * v}, 90%, ${10 + 50 * v}%)`;
      sg.fillRect(s.width - 2, s.height - (i + 1) * bh, 2, bh + 1);
    });
    if (m.tempo) $("tempo").textContent = m.tempo.toFixed(0);
  }

  function showStats(e) {
    $("p99").textContent = e.latency_ms_p99.toFixed(2);
    $("xruns").textContent = e.xruns;
    $("faults").textContent = e.health ? e.health.faults : 0;
  }

  // a tune: its header from the start event (or its own M: and K: tokens), its body bar by bar
  function tuneStart(e) {
    view.tune = { start: e, header: [], body: [], shift: e.shift || 0, ended: false };
    view.notesLit = 0;
    view.playing = [];
    if (e.reason === "phrase") {
      view.tune.header = [`M:${e.meter.replace("M:", "")}`, `K:C${e.mode}`];
    }
    const what = e.reason === "phrase" ? "answer" : `tune (${e.reason})`;
    $("tune-title").textContent = `${what}, ${e.meter.replace("M:", "")}, ${e.tempo} bpm`;
    renderScore();
  }

  function tuneTokens(tokens) {
    if (!view.tune) return;
    for (const t of tokens) {
      if (/^[MK]:/.test(t)) view.tune.header.push(t);
      else if (t !== "<s>" && t !== "</s>") view.tune.body.push(t);
    }
    renderScore();
  }

  function abcText() {
    const tune = view.tune, header = tune.header.slice();
    if (!header.some((h) => h.startsWith("M:"))) header.unshift("M:4/4");
    if (!header.some((h) => h.startsWith("K:"))) header.push("K:Cmaj");
    const body = tune.body.join("");
    return `X:1\nL:1/8\n${header.filter((h) => h.startsWith("M:")).join("\n")}\n` +
      `${header.filter((h) => h.startsWith("K:")).join("\n")}\n${body}\n`;
  }

  function renderScore() {
    if (!view.tune || typeof ABCJS === "undefined") return;
    const began = performance.now();
    const width = Math.max(400, $("score").clientWidth - 40);
    view.visual = ABCJS.renderAbc("score", abcText(), {
      add_classes: true, visualTranspose: view.tune.shift, staffwidth: width,
      wrap: { minSpacing: 1.5, maxSpacing: 2.5, preferredMeasuresPerLine: 8 },
    })[0];
    view.renderMs.push(performance.now() - began);
    lightPlaying();
  }

  function noteElements() {
    return Array.from(document.querySelectorAll("#score .abcjs-note"));
  }

  function lightPlaying() {
    const notes = noteElements();
    notes.forEach((n) => n.classList.remove("playing"));
    for (const i of view.playing) if (notes[i]) notes[i].classList.add("playing");
  }

  function play(e) {
    if (!view.tune) return;
    if (e.on) {
      view.playing.push(view.notesLit);
      view.notesLit += 1;
    } else {
      view.playing.shift();
    }
    lightPlaying();
  }

  // the pitches the score shows, as MIDI numbers (for a test, and for the curious)
  view.scorePitches = function () {
    if (!view.visual) return [];
    view.visual.setUpAudio();  // (abcjs fills in the MIDI pitches only then)
    const timings = view.visual.setTiming(120, 0) || [];
    const pitches = [];
    for (const t of timings) {
      if (t.type === "event" && t.midiPitches) {
        for (const p of t.midiPitches) pitches.push(p.pitch);
      }
    }
    return pitches;
  };

  function handle(e) {
    count(e.type);
    switch (e.type) {
      case "hello":
        view.session = e.session; view.posteriors = []; view.tune = null;
        $("score").innerHTML = ""; $("tune-title").textContent = "no tune yet";
        if (e.decision) showDecision(e.decision);
        if (e.stats) showStats(e.stats);
        for (const t of e.tune || []) handle(t);
        break;
      case "decision": showDecision(e); break;
      case "meter": showMeter(e); break;
      case "stats": showStats(e); break;
      case "tune":
        if (e.event === "start") tuneStart(e);
        else if (e.event === "tokens") tuneTokens(e.tokens);
        else if (e.event === "end" && view.tune) view.tune.ended = true;
        break;
      case "play": play(e); break;
      default: break;
    }
  }

  function connect() {
    const source = new EventSource("/events");
    view.source = source;
    source.onopen = () => { $("link").textContent = "live"; $("link").className = "up"; };
    source.onerror = () => { $("link").textContent = "reconnecting"; $("link").className = "down"; };
    source.onmessage = (m) => handle(JSON.parse(m.data));
  }
  connect();
})();
