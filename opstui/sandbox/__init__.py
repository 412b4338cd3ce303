"""Local AWS sandbox for opstui: moto 5.2.5, extended, seeded with a fleet.

This package is the only code in opstui that imports moto (and it never imports textual).
Modules, one concern each:

* ``server``    -- :class:`~opstui.sandbox.server.Sandbox`, the WSGI middleware (faults,
  ``/_opstui/`` control endpoints) in front of moto's DomainDispatcherApplication, and ``EXTENSIONS``: every
  extension in start order.
* ``extension`` -- the one shape of an extension (what it patches into moto, once per process; how a run
  prepares, starts and stops it; its control endpoints) and the registry that runs them (no moto).
* ``credentials`` -- the run's random key pair, how it is handed out, the control token (no moto);
  ``sigv4`` -- every AWS request's signature recomputed with botocore's signers, refusals in each
  protocol's shape; ``listener_guard`` -- foreign Host, browser Origin and CORS refused on every listener;
  ``environment`` -- the allow-listed environment of the sandbox and all it starts (no moto).
* ``faults``    -- fault rules and AWS-shaped error bodies per protocol.
* ``ssm_nodes`` -- managed-node registry + DescribeInstanceInformation (missing in moto),
  ManagedInstance tags, the SendCommand all-instances fix.
* ``ec2_fast``  -- indexed instance lookup, O(1) tag reads, lean DescribeInstances.
* ``scenarios`` -- scenario data (default, --nodes N, hostile); ``seed`` puts it into moto.
* ``living``    -- background churn; ``main`` -- the ``opstui sandbox`` command.
* ``ssm_sessions`` -- Start/Resume/Terminate/DescribeSessions (missing in moto) and the SessionManager;
  ``datachannel`` -- the aiohttp websocket server playing MGS + SSM agent (reliability layer, handshake,
  ``session_faults``); ``agent_shell`` -- real PTY shells with a home directory per node.

Measured (2-core machine, busy with other work; boto3 client and server in one process,
Python 3.11; "ready" = ``Sandbox.start()`` returning, after ~1.3 s of importing moto):

=====================================================  ===========  ============
measurement                                            1,000 nodes  10,000 nodes
=====================================================  ===========  ============
default scenario (25 nodes) ready                      0.5-0.8 s
ready (seeded + ec2/ssm/sts/cloudwatch warmed)         0.9-1.1 s    1.9-2.8 s
``python -m opstui.sandbox.main`` to ``endpoint`` line  2.6 s        3.9 s
DescribeInstances full pagination, MaxResults=1000     0.65 s       4.0 s (both regions)
  (server side alone: ~70 ms per 1,000-instance page; the rest is botocore's XML parsing)
DescribeInstanceInformation, MaxResults=50             0.35 s       5.6 s (201 pages)
  (server side alone: ~15 ms per page at 8,000 nodes in the region)
process max RSS                                        ~250 MB      ~300 MB
=====================================================  ===========  ============

For comparison the reference measured stock moto at 10k: create 266 s, DescribeInstances
pagination over 120 s.
"""
