"""Services: the workflow of each capability (which index to read, how pages merge, what to write
and in which order), over adapter ports and pure domain rules. Routes and handlers call exactly one
service function; services never import boto3, the API or the handlers."""
