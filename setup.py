"""The one compiled part: the forwarding tail in C (media/fastpath/_datapath.c).

Metadata lives in pyproject.toml; this file only declares the extension, which setuptools
builds on `pip install -e .` and `make` rebuilds in place when the source changes.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "media.fastpath._datapath",
            sources=[
                "media/fastpath/_datapath.c",
                "media/fastpath/dp_send.c",
                "media/fastpath/dp_slot.c",
                "media/fastpath/dp_receive.c",
                "media/fastpath/dp_route.c",
                "media/fastpath/dp_socket.c",
                "media/fastpath/dp_feedback.c",
                "media/fastpath/dp_transport.c",
                "media/fastpath/dp_trend.c",
            ],
            depends=["media/fastpath/datapath.h"],
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
        )
    ]
)
