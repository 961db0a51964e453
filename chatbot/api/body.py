"""Reading a JSON request body the way the API documents it.

Litestar decodes any body as JSON whatever its ``Content-Type``, and lets the decoder's
``RecursionError`` (a body nested about a thousand levels deep) through as a 500. Accepting
``text/plain`` would also let any web page post to an open development API without a CORS
preflight. This request class, set on the app, answers both as client errors.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class ApiRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        media_type = self.content_type[0]
        if body and not is_json(media_type):
            raise HTTPException(status_code=415, detail="send the body as application/json")
        try:
            return await super().json()
        except RecursionError:
            raise ClientException("the JSON body is nested too deeply") from None
