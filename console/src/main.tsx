/** Entry point: read the stage's runtime settings, then start the console. */

import { render } from "preact";

import { App } from "./app";
import { loadConfig } from "./config";
import { SCREENS } from "./screens";

const root = document.getElementById("app");
if (root) {
  loadConfig().then(
    (config) => {
      root.replaceChildren(); // the "Loading" text: render() diffs against what is there
      render(<App config={config} screens={SCREENS} />, root);
    },
    (error: unknown) => {
      const message = document.createElement("p");
      message.setAttribute("role", "alert");
      message.className = "error";
      message.textContent = `The console could not start: ${error instanceof Error ? error.message : String(error)}`;
      root.replaceChildren(message);
    },
  );
}
