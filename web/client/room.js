// The live screens (room, console, applicant's day) build on this socket.io connection.
import { io } from "socket.io-client";

export function connect(namespace, auth) {
  return io(namespace, { auth, transports: ["websocket"], reconnectionDelayMax: 5000 });
}
