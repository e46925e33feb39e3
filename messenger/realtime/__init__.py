"""The realtime core: the WebSocket gateway, the per-node hub and its sockets, the broker between
nodes, presence, group commit and the frame format.

Layer: realtime. It sits above the domain (the gateway and the writer call domain functions)
and the domain reaches it only through `ports.Publisher`, which the hub implements.
"""
