// The offset between this computer's clock and the server's, from heartbeat round trips
// (UX pitfall 5: timers agree across screens because each client corrects for its own clock).
// Like NTP: the sample with the shortest round trip has the least uncertainty, so it wins.
const KEEP = 15;

export class ClockOffset {
  constructor() {
    this.samples = [];
    this.offsetMs = 0;
  }

  // `sentAt` is Date.now() when the heartbeat left, `rttMs` the measured round trip.
  add(sentAt, rttMs, serverTime) {
    if (!Number.isFinite(serverTime) || !Number.isFinite(rttMs) || rttMs < 0) return this.offsetMs;
    this.samples.push({ offset: serverTime - (sentAt + rttMs / 2), rtt: rttMs });
    if (this.samples.length > KEEP) this.samples.shift();
    const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.offsetMs = Math.round(best.offset);
    return this.offsetMs;
  }

  // The server's clock now, in milliseconds.
  serverNow() {
    return Date.now() + this.offsetMs;
  }
}
