"""Federated training of the bundles with NVIDIA FLARE (the optional ``.[federated]`` extra).

``sites`` splits one datalist into per-site datalists by patient (rehearsal data); ``job`` builds the FedAvg job of a
bundle (NVFlare's recipe API) and runs it in NVFlare's simulator or exports it for a provisioned federation;
``client`` is the script each site runs: MONAI's ``MonaiAlgo`` training the bundle's own ``train.json`` workflow on
the site's datalist, driven by NVFlare's Client API. Only ``job`` and ``client`` import NVFlare.
"""
