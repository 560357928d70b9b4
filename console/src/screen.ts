/** What a screen is, and which screens a user sees. A screen module exports one `Screen`; the list
 * in `screens/index.ts` registers it. Groups decide visibility only: the API decides what is
 * allowed, so a screen shown by mistake still gets nothing but the API's refusal. */

import type { ComponentType } from "preact";

import type { Api } from "./api";
import type { Session } from "./auth";
import type { ConsoleConfig } from "./config";
import { Role } from "./roles";

export interface ScreenProps {
  api: Api;
  session: Session;
  config: ConsoleConfig;
}

export interface Screen {
  /** The hash route (`#/alerts`) and a stable id for tests. */
  id: string;
  /** The navigation label and the screen's heading. */
  title: string;
  /** Cognito groups that see this screen. */
  groups: readonly Role[];
  view: ComponentType<ScreenProps>;
}

/** The screens a user with these groups sees, in registration order. An admin sees admin screens
 * only, even if a token ever carried another group too (the pool's pre-token trigger refuses such a
 * token, and so does the API: R-ROLE). */
export function screensFor(screens: readonly Screen[], groups: readonly string[]): Screen[] {
  const admin = groups.includes(Role.ADMIN);
  return screens.filter((screen) =>
    admin ? screen.groups.includes(Role.ADMIN) : screen.groups.some((group) => groups.includes(group)),
  );
}
