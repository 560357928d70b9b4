/** Every screen of the console, in navigation order: one line per screen (see console/README.md). */

import type { Screen } from "../screen";
import { accountsScreen } from "./accounts";
import { alertsScreen } from "./alerts";
import { auditScreen } from "./audit";
import { authorisationsScreen } from "./authorisations";
import { reportsScreen } from "./reports";
import { searchScreen } from "./search";
import { subjectRequestsScreen } from "./subject-requests";
import { voiScreen } from "./voi";

export const SCREENS: readonly Screen[] = [alertsScreen, searchScreen, authorisationsScreen, voiScreen, auditScreen, reportsScreen, accountsScreen, subjectRequestsScreen];
