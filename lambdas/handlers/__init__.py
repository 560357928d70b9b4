"""Lambda entry points, one module per function: parse the event, call the app, shape the response.
Deployed as the function code; everything they import comes from the runtime layer."""
