// Small edits to session descriptions the browser is given (pure functions on SDP text).

function sections(sdp) {
  // The session part, then one list of lines per m-section.
  const parts = [[]];
  for (const line of sdp.split(/\r?\n/)) {
    if (!line) continue;
    if (line.startsWith("m=")) parts.push([]);
    parts[parts.length - 1].push(line);
  }
  return parts;
}

// The answer with a start bitrate for our VP8 on the video m-line `mid` (Chromium's
// `x-google-start-bitrate`, in kbit/s; other browsers ignore it). Only the start of the send
// estimate moves: the estimate still falls at once when the link cannot carry it.
export function withStartBitrate(sdp, mid, kbps) {
  const out = [];
  for (const lines of sections(sdp)) {
    const ours = lines.length > 0 && lines[0].startsWith("m=video") && lines.includes(`a=mid:${mid}`);
    if (!ours) {
      out.push(...lines);
      continue;
    }
    const vp8 = new Set();
    for (const line of lines) {
      const match = /^a=rtpmap:(\d+) VP8\/90000/i.exec(line);
      if (match) vp8.add(match[1]);
    }
    const withFmtp = new Set();
    const edited = lines.map((line) => {
      const match = /^a=fmtp:(\d+) /.exec(line);
      if (!match || !vp8.has(match[1])) return line;
      withFmtp.add(match[1]);
      return line.includes("x-google-start-bitrate") ? line : `${line};x-google-start-bitrate=${kbps}`;
    });
    for (const line of edited) {
      out.push(line);
      const match = /^a=rtpmap:(\d+) VP8\/90000/i.exec(line);
      if (match && !withFmtp.has(match[1])) out.push(`a=fmtp:${match[1]} x-google-start-bitrate=${kbps}`);
    }
  }
  return `${out.join("\r\n")}\r\n`;
}
