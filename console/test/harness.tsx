/** The map and timeline on a page of their own, for the browser tests: `data.json` beside the page
 * gives the sites, sightings and tile URL, so a test can draw any case with the real components. */

import { render } from "preact";
import { useState } from "preact/hooks";

import { CameraMap, type Site } from "../src/components/map";
import { type Sighting, Timeline } from "../src/components/timeline";
import { Status } from "../src/components/ui";

interface HarnessData {
  sites: Site[];
  sightings: Sighting[];
  tile_url: string;
}

function Harness({ data }: { data: HarnessData }) {
  const [selected, setSelected] = useState<string | null>(null);
  return (
    <>
      <h1>Map and timeline</h1>
      <CameraMap sites={data.sites} tileUrl={data.tile_url} selected={selected} onSelect={(s) => setSelected(s.id)} />
      {selected ? <Status>Selected {selected}</Status> : null}
      <Timeline sightings={data.sightings} />
    </>
  );
}

fetch("data.json")
  .then((r) => r.json() as Promise<HarnessData>)
  .then((data) => {
    const root = document.getElementById("app");
    if (root) render(<Harness data={data} />, root);
  });
