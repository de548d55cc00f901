"""HTTP drivers of the pipeline: thin FastAPI routers (openai, admin, audit) that map a request
to the pipeline and its result back to HTTP, the request-scope middleware, and the app."""
