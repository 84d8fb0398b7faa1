// What our video sender encodes: three copies of the camera (simulcast, RFC 8853; docs/protocol.md,
// "Simulcast and congestion control"), and how they fit the picture actually being sent.
//
// The server forwards to each person the copy their own link carries: one weak downlink then
// costs that person some sharpness instead of costing everyone who receives from us.

// Lowest quality first: the order the server ranks layers by (q < h < f). The scales and
// bitrates are for the 960×720 camera the room asks for (media.js): 240×180, 480×360 and
// 960×720.
export const SIMULCAST_ENCODINGS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];
const SINGLE_MAX_BITRATE = 1_200_000;

// Where Chromium's send estimate starts (kbit/s; the answer's `x-google-start-bitrate`). By
// itself it starts at 300 and, with only the server's REMB to go by (at most 1.5 times what
// arrives: no transport-wide feedback, so no probing), it never grows enough to start the
// full layer once the lower two are running. Starting where all three fit (about 1.2 Mbit/s
// at 960×720 with the audio) has the full layer running when the server's estimate first
// measures what arrives; a link that cannot carry it brings the estimate down within seconds,
// and the top layer pauses until it recovers.
export const START_KBPS = 1600;

// Firefox offers simulcast the way the server accepts it (a=rid, a=simulcast, rtp-stream-id),
// and the server receives its layers; but it ignores `x-google-start-bitrate` and starts its
// estimate at 300 kbit/s, so under the same REMB cap its full layer never starts: everyone
// would see it at half resolution at most. One stream instead grows smoothly to full resolution
// (the server can then only pause it for a weak downlink, not lower it). Worth trying again
// once the server sends transport-wide congestion feedback (Firefox then probes).
export function sendsSimulcast(userAgent = navigator.userAgent) {
  return !/\bFirefox\//.test(userAgent);
}

// How many layers Chromium encodes for a picture this size: fewer than 960×540 pixels, two;
// fewer than 640×360, one. It keeps the first encodings at the scales they have, so a 640×480
// camera would go out at 160×120 and 320×240 only (the picture of every receiver halved).
function layersFor(width, height) {
  const pixels = width * height;
  if (pixels >= 960 * 540) return 3;
  if (pixels >= 640 * 360) return 2;
  return 1;
}

// The encodings for a picture of `width`×`height` (unknown: 0): the layers that get encoded
// end at full resolution, one halving apart; the others are turned off. The rids and their
// order never change (that would need a new offer).
export function encodingsFor(width, height) {
  const count = width && height ? layersFor(width, height) : 3;
  return SIMULCAST_ENCODINGS.map((encoding, index) => {
    if (index >= count) return { ...encoding, active: false };
    return { ...encoding, active: true, scaleResolutionDownBy: 2 ** (count - 1 - index) };
  });
}

function size(track) {
  const settings = track && typeof track.getSettings === "function" ? track.getSettings() : {};
  return [settings.width || 0, settings.height || 0];
}

// `sendEncodings` for the video transceiver. All three are active in the offer (an inactive
// one is offered paused, `~f`, and the server leaves it out for good); `fitEncodings` then
// turns off what the picture is too small for.
export function initialEncodings() {
  if (!sendsSimulcast()) return [{ maxBitrate: SINGLE_MAX_BITRATE }];
  return SIMULCAST_ENCODINGS.map((encoding) => ({ ...encoding }));
}

// Once negotiated, and after every `replaceTrack` (another camera, a shared screen): the
// layers fit the picture being sent.
export async function fitEncodings(sender, track) {
  if (!sender || !track) return;
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length < 2) return;
  const wanted = encodingsFor(...size(track));
  let changed = false;
  for (const encoding of params.encodings) {
    const target = wanted.find((w) => w.rid === encoding.rid);
    if (!target) continue;
    if (encoding.active !== target.active || encoding.scaleResolutionDownBy !== target.scaleResolutionDownBy) {
      encoding.active = target.active;
      encoding.scaleResolutionDownBy = target.scaleResolutionDownBy;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}
