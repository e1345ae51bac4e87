"""Console entry points. Each module is a thin ``main(argv=None)`` that parses kebab-case flags and calls one typed
library function a user could call too; user errors become one clear line and an exit code (``_common.py``).

    demo.py    handmesh-demo     live frames -> hands, a mesh drawn on each (handmesh.app)
    train.py   handmesh-train    a YAML recipe plus key=value overrides (handmesh.train)
    eval.py    handmesh-eval     FreiHAND metrics for a pred.json or a checkpoint (handmesh.evaluation)
    export.py  handmesh-export   a checkpoint -> ONNX, TorchScript or Core ML (handmesh.export)
    synth.py   handmesh-synth    synthetic data in FreiHAND's layout, and video clips (handmesh.synth)
    mano.py    handmesh-mano     the licensed MANO pickles -> the compact model file (handmesh.hand_model)
    bench.py   handmesh-bench    the benchmarks (handmesh.bench)
"""
