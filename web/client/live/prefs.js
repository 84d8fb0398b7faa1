// Device choices remembered per browser (UX 1): the device check writes them, the room reads them.
const KEY = "interviewday.devices.v1";
const DEFAULTS = { micId: "", camId: "", speakerId: "", micOn: true, camOn: true };

export function loadPrefs() {
  try {
    const raw = window.localStorage.getItem(KEY);
    return { ...DEFAULTS, ...(raw ? JSON.parse(raw) : {}) };
  } catch {
    return { ...DEFAULTS };
  }
}

export function savePrefs(changes) {
  const next = { ...loadPrefs(), ...changes };
  try {
    window.localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Storage disabled (private mode): the choice holds for this page only.
  }
  return next;
}
