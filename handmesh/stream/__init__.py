"""Hands for clients outside Python: a live WebSocket stream with a versioned schema, and a 3D view in the browser.

    from handmesh.stream import HandStream
    with HandStream(port=8765) as stream:           # ws://127.0.0.1:8765/, the web client at http://127.0.0.1:8765/
        stream.publish(event)                       # a FrameEvent per processed frame; never waits

Where things are:
    schema.py        the messages (JSON frame/faces/hello/error, the binary mesh layout), FrameEvent, decoding
    schema.json      the same as a JSON Schema, for clients in other languages
    server.py        HandStream: newest-frame-per-client sending, drop counts, tokens, the web page
    page/index.html  the small JavaScript client the server serves at /
    browser_view.py  BrowserView: meshes, skeletons, the camera frustum and the frame in 3D (viser)

``handmesh-serve`` (and ``handmesh-demo --serve PORT``) run the live pipeline with both. Importing this package
does no work; websockets and viser load when a server starts.
"""
