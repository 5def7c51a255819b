from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.access import org_role_required


@org_role_required()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "summaries/index.html")
