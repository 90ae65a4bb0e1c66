"""The one compiled part of clonekit: the WhatsApp parse kernel (data_prep/_whatsapp_kernel.c). Optional: where no C
compiler is found, the install goes on without it and `prep parse` takes its Python path (same output, slower).
Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "clonekit.data_prep._whatsapp_kernel",
            ["data_prep/_whatsapp_kernel.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
